"""Users' habits from other libraries: their argument names, "did you mean" for typos, and the messages for the
common mistakes (a class for an instance, sparse input, a foreign model file, labels as a column)."""

from __future__ import annotations

import inspect
import warnings

import ferronet as fnet
import numpy as np
import pytest
from ferronet.preprocessing import train_test_split

# ---- optimizers: Keras' and torch's names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("habit", "ferronet"),
    [
        (lambda: fnet.optim.Adam(learning_rate=1e-2), lambda: fnet.optim.Adam(lr=1e-2)),
        (lambda: fnet.optim.Adam(betas=(0.8, 0.99)), lambda: fnet.optim.Adam(beta1=0.8, beta2=0.99)),
        (lambda: fnet.optim.Adam(betas=[0.8, 0.99]), lambda: fnet.optim.Adam(beta1=0.8, beta2=0.99)),
        (
            lambda: fnet.optim.Adam(learning_rate=3e-4, beta_1=0.85, beta_2=0.98, epsilon=1e-7),
            lambda: fnet.optim.Adam(lr=3e-4, beta1=0.85, beta2=0.98, eps=1e-7),
        ),
        (lambda: fnet.optim.SGD(learning_rate=0.1, momentum=0.9), lambda: fnet.optim.SGD(lr=0.1, momentum=0.9)),
        (
            lambda: fnet.optim.RMSProp(learning_rate=1e-2, alpha=0.99, epsilon=1e-6),
            lambda: fnet.optim.RMSProp(lr=1e-2, rho=0.99, eps=1e-6),
        ),
        (lambda: fnet.optim.RMSProp(1e-2, rho=0.8), lambda: fnet.optim.RMSProp(lr=1e-2, rho=0.8)),
        (lambda: fnet.Dropout(rate=0.3), lambda: fnet.Dropout(p=0.3)),
        (lambda: fnet.BatchNorm(epsilon=1e-3), lambda: fnet.BatchNorm(eps=1e-3)),
    ],
)
def test_other_libraries_names_build_the_same_object(habit, ferronet):
    made, expected = habit(), ferronet()
    assert made.config() == expected.config()
    assert repr(made) == repr(expected)  # the repr speaks ferronet's names


@pytest.mark.parametrize(
    ("call", "both"),
    [
        (lambda: fnet.optim.Adam(lr=1e-3, learning_rate=1e-3), "'lr' and 'learning_rate'"),
        (lambda: fnet.optim.Adam(1e-3, learning_rate=1e-3), "'lr' and 'learning_rate'"),  # lr given by position
        (lambda: fnet.optim.SGD(0.1, learning_rate=0.1), "'lr' and 'learning_rate'"),
        (lambda: fnet.optim.RMSProp(learning_rate=0.1, lr=0.1), "'lr' and 'learning_rate'"),
        (lambda: fnet.optim.Adam(beta1=0.9, betas=(0.9, 0.999)), "'beta1' and 'betas'"),
        (lambda: fnet.optim.Adam(betas=(0.9, 0.999), beta_2=0.99), "'betas' and 'beta_2'"),
        (lambda: fnet.optim.Adam(eps=1e-8, epsilon=1e-7), "'eps' and 'epsilon'"),
        (lambda: fnet.optim.RMSProp(rho=0.9, alpha=0.99), "'rho' and 'alpha'"),
        (lambda: fnet.Dropout(0.2, rate=0.2), "'p' and 'rate'"),
        (
            lambda: train_test_split(np.zeros((10, 1)), np.zeros(10), seed=1, random_state=1),
            "'seed' and 'random_state'",
        ),
    ],
)
def test_a_name_and_its_alias_together_is_a_type_error(call, both):
    with pytest.raises(TypeError, match=f"got both {both}.*pass one"):
        call()


def test_alias_values_are_checked_like_the_names_they_stand_for():
    with pytest.raises(TypeError, match=r"betas must be a tuple \(beta1, beta2\)"):
        fnet.optim.Adam(betas=0.9)
    with pytest.raises(ValueError, match=r"betas must hold 2 values"):
        fnet.optim.Adam(betas=(0.9, 0.99, 0.999))
    # the messages name the argument as the user spelled it
    with pytest.raises(ValueError, match=r"^betas \(beta2\) must be < 1\.0; got 1\.0$"):
        fnet.optim.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"^learning_rate \(lr\) must be >= 0\.0; got -1\.0$"):
        fnet.optim.SGD(learning_rate=-1)
    with pytest.raises(TypeError, match=r"^learning_rate \(lr\) must be a number"):
        fnet.optim.Adam(learning_rate=None)  # an alias given as None is passed on, as the name would be
    with pytest.raises(ValueError, match=r"^random_state \(seed\) must be >= 0"):
        train_test_split(np.zeros((10, 1)), np.zeros(10), random_state=-1)


def test_aliases_are_in_the_signatures_and_the_config_keeps_ferronets_names():
    parameters = inspect.signature(fnet.optim.Adam).parameters
    for name in ("lr", "beta1", "beta2", "eps", "learning_rate", "betas", "beta_1", "beta_2", "epsilon"):
        assert name in parameters
    assert parameters["learning_rate"].kind is inspect.Parameter.KEYWORD_ONLY
    config = fnet.optim.Adam(learning_rate=0.01).config()
    assert "learning_rate" not in config and config["lr"] == 0.01
    assert fnet.optim.optimizer_from_config(config).lr == 0.01
    # the fit signature is unchanged by the keyword check
    assert list(inspect.signature(fnet.Sequential.fit).parameters)[:4] == ["self", "X", "y", "epochs"]


# ---- did you mean ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fnet.Dense(10, activation="rleu"), "activation must be one of .*; got 'rleu'; did you mean 'relu'\\?"),
        (lambda: fnet.Dense(10, activation="ReLU"), "did you mean 'relu'\\?"),
        (lambda: fnet.Dense(10, init="xavier-uniform"), "did you mean 'xavier_uniform'\\?"),
        (lambda: fnet.Activation("tanh_"), "did you mean 'tanh'\\?"),
        (lambda: fnet.Sequential([fnet.Dense(2)], loss="crossentropy"), "did you mean 'softmax_cross_entropy'\\?"),
        (lambda: fnet.Sequential([fnet.Dense(2)], dtype="float32", loss="MSE"), "did you mean 'mse'\\?"),
        (lambda: fnet.optim.get_optimizer("Adam"), "optimizer must be one of .*; got 'Adam'; did you mean 'adam'\\?"),
        (lambda: fnet.callbacks.EarlyStopping(monitor="val_los"), "did you mean 'val_loss'\\?"),
    ],
)
def test_unknown_choice_strings_suggest_the_closest(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_choice_far_from_every_name_has_no_suggestion():
    with pytest.raises(ValueError) as info:
        fnet.Dense(10, activation="swish")
    assert "did you mean" not in str(info.value)


def _model():
    return fnet.Sequential([fnet.Dense(3)], input_dim=2)


_X, _Y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: _model().fit(_X, _Y, epoch=1),
            r"Sequential\.fit\(\) got an unexpected keyword argument 'epoch'; did you mean 'epochs'\?",
        ),
        (lambda: _model().fit(_X, _Y, batchsize=2), "did you mean 'batch_size'"),
        (lambda: _model().fit(x=_X, y=_Y), "did you mean 'X'"),
        (lambda: _model().fit(_X, _Y, lr=0.1), "the learning rate is the optimizer's: fit\\(..., optimizer="),
        (lambda: _model().fit(_X, _Y, validation_fraction=0.1), "ferronet's name is validation_split"),
        (lambda: _model().train_step(_X, _Y, sample_weights=None), "did you mean 'sample_weight'"),
        (
            lambda: _model().predict(_X, verbose=0),
            r"Sequential\.predict\(\) got .* 'verbose'; inference prints nothing",
        ),
        (lambda: _model().evaluate(_X, _Y, batch_size=2), "inference runs in blocks"),
        (lambda: _model().save("m.safetensors", include_optimiser=False), "did you mean 'include_optimizer'"),
        (
            lambda: fnet.Sequential([fnet.Dense(2)], optimizer="adam"),
            r"Sequential\(\) got .* the optimizer is given to fit",
        ),
        (lambda: fnet.Sequential([fnet.Dense(2)], input_dims=3), "did you mean 'input_dim'"),
        (
            lambda: fnet.Dense(10, activaton="relu"),
            r"Dense\(\) got an unexpected keyword argument 'activaton'; did you mean 'activation'\?",
        ),
        (lambda: fnet.Dense(64, input_shape=(784,)), r"Sequential\(\[...\], input_dim=N\)"),
        (lambda: fnet.Dense(64, kernel_initializer="he_normal"), "ferronet's name is init"),
        (lambda: fnet.optim.Adam(lrr=0.1), r"Adam\(\) got an unexpected keyword argument 'lrr'; did you mean 'lr'\?"),
        (lambda: fnet.optim.Adam(weight_decay=1e-4), "Sequential\\(..., l2=...\\)"),
        (lambda: fnet.optim.SGD(momentun=0.9), "did you mean 'momentum'"),
        (lambda: fnet.callbacks.EarlyStopping(patiance=3), "did you mean 'patience'"),
        (lambda: fnet.callbacks.ReduceLROnPlateau(min_lr_=0.0), "did you mean 'min_lr'"),
        (lambda: fnet.schedules.StepDecay(factr=0.5), "did you mean 'factor'"),
        (lambda: fnet.preprocessing.Standardizer(with_means=False), "did you mean 'with_mean'"),
        (lambda: train_test_split(_X, _Y, tst_size=0.5), "did you mean 'test_size'"),
        (lambda: fnet.datasets.load_digits(return_X_y=True), "returns \\(X, y\\) already"),
        (lambda: fnet.datasets.make_spiral(n_class=3), "did you mean 'n_classes'"),
        (lambda: fnet.datasets.load_fashion_mnist(root="/tmp"), "ferronet's name is path"),
    ],
)
def test_unknown_keyword_arguments_say_what_was_meant(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_unknown_keyword_of_the_scikit_learn_estimators():
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPClassifier, MLPRegressor
    from sklearn.base import clone

    with pytest.raises(
        TypeError, match=r"MLPClassifier\(\) got .* 'hidden_layer_size'; did you mean 'hidden_layer_sizes'"
    ):
        MLPClassifier(hidden_layer_size=(3,))
    with pytest.raises(TypeError, match="did you mean 'learning_rate_init'"):
        MLPRegressor(learning_rate_int=0.1)
    # scikit-learn reads the parameters from the signature: still the estimator's own
    estimator = clone(MLPClassifier(hidden_layer_sizes=(5,), alpha=0.1))
    assert estimator.get_params()["hidden_layer_sizes"] == (5,) and estimator.get_params()["alpha"] == 0.1


# ---- a class where an instance is expected -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: _model().fit(_X, _Y, optimizer=fnet.optim.Adam),
            r"optimizer is the class Adam; pass an instance: Adam\(\)",
        ),
        (lambda: _model().train_step(_X, _Y, optimizer=fnet.optim.SGD), r"pass an instance: SGD\(\)"),
        (
            lambda: fnet.Sequential([fnet.Dense, fnet.Dense(2)]),
            r"layers\[0\] is the class Dense; pass an instance: Dense\(...\)",
        ),
        (
            lambda: fnet.Sequential([fnet.Dense(4), fnet.Dropout]),
            r"layers\[1\] is the class Dropout; pass an instance: Dropout\(\)",
        ),
        (lambda: _model().fit(_X, _Y, early_stopping=fnet.EarlyStopping), r"early_stopping is the class EarlyStopping"),
        (
            lambda: _model().fit(_X, _Y, callbacks=[fnet.callbacks.TerminateOnNaN]),
            r"pass an instance: TerminateOnNaN\(\)",
        ),
        (
            lambda: _model().fit(_X, _Y, schedule=fnet.schedules.StepDecay),
            r"schedule is the class StepDecay; pass an instance",
        ),
    ],
)
def test_a_class_instead_of_an_instance_says_pass_an_instance(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# ---- train_test_split: scikit-learn's names ----------------------------------------------------------------------


def test_split_with_scikit_learn_names_is_the_same_split():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    ours = train_test_split(X, y, test_fraction=0.3, seed=7)
    theirs = train_test_split(X, y, test_size=0.3, random_state=7)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    again = train_test_split(X, y, random_state=None)  # fresh entropy, as scikit-learn's None
    assert len(again[1]) == 10


@pytest.mark.parametrize(
    "sizes",
    [
        {"test_size": 0.25},
        {"test_size": 0.33},
        {"test_size": 7},
        {"train_size": 0.6},
        {"train_size": 0.67},
        {"train_size": 30},
        {"train_size": 0.5, "test_size": 0.3},
        {"train_size": 20, "test_size": 5},
    ],
)
def test_split_sizes_follow_scikit_learn(sizes):
    from_sklearn = pytest.importorskip("sklearn.model_selection")
    X, y = np.arange(94).reshape(47, 2), np.arange(47)
    ours = train_test_split(X, y, random_state=0, **sizes)
    theirs = from_sklearn.train_test_split(X, y, random_state=0, **sizes)
    assert [len(part) for part in ours] == [len(part) for part in theirs]
    assert not set(ours[2]) & set(ours[3])  # the sets do not overlap


def test_split_stratify_keeps_the_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(y[X_train[:, 0]], y_train)  # rows stay with their labels
    assert sorted(np.r_[X_train[:, 0], X_test[:, 0]].tolist()) == list(range(100))
    # the same sizes as scikit-learn's stratified split, and the same seed gives the same split
    from_sklearn = pytest.importorskip("sklearn.model_selection")
    theirs = from_sklearn.train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    assert np.bincount(theirs[3]).tolist() == [12, 6, 2]
    again = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    np.testing.assert_array_equal(again[1], X_test)
    # string labels and one-hot rows work as strata
    labels = np.array(["a", "b"] * 10)
    y_test = train_test_split(np.zeros((20, 1)), np.arange(20), test_size=4, stratify=labels)[3]
    assert sorted(labels[y_test].tolist()) == ["a", "a", "b", "b"]
    one_hot = np.eye(2)[np.arange(20) % 2]
    assert train_test_split(np.zeros((20, 1)), one_hot, test_size=4, stratify=one_hot)[3].sum(axis=0).tolist() == [2, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_fraction": 0.2, "test_size": 0.2}, TypeError, "both test_fraction and test_size"),
        ({"test_size": 0.0}, ValueError, "test_size must be > 0.0"),
        ({"test_size": 10}, ValueError, "test_size must be <= 9"),
        ({"test_size": True}, TypeError, "test_size must be a number"),
        ({"train_size": 1.5}, ValueError, "train_size must be < 1.0"),
        ({"train_size": 8, "test_size": 3}, ValueError, r"ask for 8 \+ 3 rows; X has 10"),
        ({"train_size": 0.05}, ValueError, "both must be at least 1"),
        ({"stratify": np.arange(10) % 2, "shuffle": False}, ValueError, "stratify needs shuffle=True"),
        ({"stratify": np.arange(10)}, ValueError, "only 1 row"),
        ({"stratify": np.arange(9) % 2}, ValueError, r"one label per row of X, shape \(10,\)"),
        ({"stratify": np.arange(10) % 5, "test_size": 3}, ValueError, "at least one row per class"),
    ],
)
def test_split_rejects_bad_scikit_learn_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


# ---- an optional dependency missing: the extra to install ---------------------------------------------------------

_IMPORT_CASES = [
    ("from ferronet.sklearn import MLPClassifier", "sklearn", 'pip install "ferronet[sklearn]"'),
    ("import ferronet as fnet; fnet.sklearn", "sklearn", 'pip install "ferronet[sklearn]"'),
    ("import ferronet.distributed", "distributed", 'pip install "ferronet[dask]"'),
    ("import ferronet.distributed", "dask", 'pip install "ferronet[dask]"'),
    ("from ferronet.onnx import to_onnx", "onnx", 'pip install "ferronet[onnx]"'),
    (
        "import ferronet as fnet; fnet.plot.history({'loss': [1.0, 0.5]})",
        "matplotlib",
        'pip install "ferronet[plot]"',
    ),
]


@pytest.mark.parametrize(("code", "missing", "hint"), _IMPORT_CASES, ids=[f"{c[1]}-{c[0][:30]}" for c in _IMPORT_CASES])
def test_a_missing_optional_dependency_names_the_extra(tmp_path, code, missing, hint):
    import os
    import subprocess
    import sys

    (tmp_path / f"{missing}.py").write_text(f"raise ImportError({'No module named ' + missing!r})\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and hint in last, result.stderr


# ---- labels as a column ------------------------------------------------------------------------------------------


def test_labels_as_a_column_or_a_one_column_dataframe_train_as_labels():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = rng.integers(0, 3, 60)

    def trained(labels):
        model = fnet.Sequential([fnet.Dense(8, activation="relu"), fnet.Dense(3)], input_dim=3, seed=1)
        model.fit(X, labels, epochs=2, batch_size=16)
        return model

    expected = trained(y)
    for column in (y.reshape(-1, 1), pd.DataFrame({"label": y}), y.reshape(-1, 1).astype(np.float64)):
        model = trained(column)
        for a, b in zip(model.get_weights(), expected.get_weights(), strict=True):
            np.testing.assert_array_equal(a["W"], b["W"])
        assert model.evaluate(X, column) == expected.evaluate(X, y)
        assert np.isfinite(model.train_step(X, column))


def test_labels_as_a_column_in_the_scikit_learn_estimator_warn_as_scikit_learn_does():
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPClassifier
    from sklearn.exceptions import DataConversionWarning

    X, y = np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(DataConversionWarning, match="column-vector y"):  # scikit-learn's own behaviour, kept
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y.reshape(-1, 1))
    assert estimator.classes_.tolist() == [0, 1, 2]


# ---- scipy sparse input where dense input is needed ---------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda S: fnet.preprocessing.standardize(S),
        lambda S: fnet.preprocessing.Standardizer().fit(S),
        lambda S: fnet.preprocessing.train_test_split(S, np.zeros(S.shape[0])),
        lambda S: fnet.ops.relu_forward(S),
    ],
)
def test_sparse_input_that_a_function_does_not_take_says_how_to_convert(call):
    """The model and the estimators take CSR/CSC X (tests/test_sparse.py); these helpers do not."""
    sparse = pytest.importorskip("scipy.sparse")
    S = sparse.random(1000, 2, density=0.1, format="csr", dtype=np.float32, random_state=0)
    with pytest.raises(TypeError) as info:
        call(S)
    message = str(info.value)
    assert "is a scipy.sparse csr_matrix of shape (1000, 2); sparse input is not accepted here" in message
    assert ".toarray() (dense: 7.8 KiB)" in message


def test_sparse_labels_name_the_labels():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"^y is a scipy\.sparse coo_array .* convert it with y\.toarray\(\)"):
        _model().fit(_X, sparse.coo_array(np.zeros((4, 1))))


# ---- foreign model files ------------------------------------------------------------------------------------------


def _zip(entries):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _foreign_files():
    import pickle

    npy, npz = _np_bytes()
    return {
        "model.pt": (
            _zip({"archive/data.pkl": pickle.dumps({}, protocol=2), "archive/version": b"3\n"}),
            r"it looks like a PyTorch checkpoint \(zip/pickle, torch\.save\); ferronet reads safetensors files "
            r"written by Sequential\.save; to bring a PyTorch model over, .*Sequential\.from_torch",
        ),
        "legacy.pth": (pickle.dumps({"state_dict": {}}, protocol=2), r"it looks like a pickle \(a PyTorch checkpoint"),
        "model.pkl": (pickle.dumps(_model()), r"it looks like a pickled ferronet model; .* pickle\.load"),
        "model.h5": (b"\x89HDF\r\n\x1a\n" + bytes(200), r"it looks like an HDF5 file \(a Keras \.h5 model\?\)"),
        "model.keras": (
            _zip({"config.json": b"{}", "model.weights.h5": b"", "metadata.json": b"{}"}),
            r"it looks like a Keras \.keras archive",
        ),
        "weights.npy": (npy, r"it looks like a NumPy \.npy array"),
        "weights.npz": (npz, r"it looks like a NumPy \.npz archive"),
        "model.safetensors.gz": (b"\x1f\x8b\x08\x00" + bytes(40), "it looks like a gzip-compressed file"),
        "config.json": (b'{"layers": []}', r"it looks like a JSON text file; .*Sequential\.from_config"),
        "archive.zip": (_zip({"readme.txt": b"hi"}), "it looks like a zip archive;"),
    }


def _np_bytes():
    import io

    one, many = io.BytesIO(), io.BytesIO()
    np.save(one, np.zeros(3))
    np.savez(many, a=np.zeros(3))
    return one.getvalue(), many.getvalue()


@pytest.mark.parametrize("name", list(_foreign_files()))
def test_loading_a_foreign_file_says_what_it_looks_like(tmp_path, name):
    data, message = _foreign_files()[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"^model file '{path}' is not a ferronet model file: {message}"):
        fnet.load(path)
    with pytest.raises(ValueError, match=rf"^model bytes is not a ferronet model file: {message}"):
        fnet.io.from_bytes(data)


def test_loading_an_onnx_file_says_onnx(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "model.onnx"
    _model().to_onnx(path)
    with pytest.raises(ValueError, match=r"not a ferronet model file: it looks like an ONNX model; .*to_onnx"):
        fnet.load(path)


def test_the_scikit_learn_estimators_load_names_foreign_files_too(tmp_path):
    pytest.importorskip("sklearn")
    from ferronet.sklearn import MLPClassifier

    path = tmp_path / "model.pt"
    path.write_bytes(_foreign_files()["model.pt"][0])
    with pytest.raises(ValueError, match="it looks like a PyTorch checkpoint"):
        MLPClassifier.load(path)


def test_real_model_files_and_other_safetensors_still_reach_the_engine(tmp_path):
    model = _model()
    model.save(tmp_path / "m.safetensors")
    assert fnet.load(tmp_path / "m.safetensors").config() == model.config()
    # a safetensors file that ferronet did not write: the engine's own reason, not a format guess
    (tmp_path / "other.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError) as info:
        fnet.load(tmp_path / "other.safetensors")
    assert "looks like" not in str(info.value)


def test_saving_into_a_missing_directory_names_the_path_and_the_directory():
    with pytest.raises(FileNotFoundError) as info:
        _model().save("/nonexistent/x.safetensors")
    assert str(info.value) == (
        "[Errno 2] cannot write path '/nonexistent/x.safetensors': directory '/nonexistent' does not exist"
    )
