"""Bad input raises a Python exception (ValueError for shapes/values/names, TypeError for types) whose message names
the argument, and leaves the model exactly as it was; unusual but valid inputs just work."""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest
from conftest import assert_weights_equal
from ferronet.optim import SGD, Adam, RMSProp
from ferronet.schedules import ExponentialDecay, InverseTimeDecay, StepDecay

LAYERS = [fnet.Dense(8, activation="relu"), fnet.BatchNorm(), fnet.Dropout(0.2), fnet.Dense(3)]
N, D = 40, 4


def data():
    generator = np.random.default_rng(0)
    return generator.normal(size=(N, D)), generator.integers(0, 3, N)


def trained_model() -> fnet.Sequential:
    """A float64 model after one epoch with a momentum optimizer (so weights, BatchNorm statistics, optimizer state
    and the step counter all hold something a failed call could disturb)."""
    X, y = data()
    model = fnet.Sequential(LAYERS, input_dim=D, dtype="float64", l2=1e-3, seed=0)
    model.fit(X, y, epochs=1, batch_size=8, optimizer=SGD(lr=0.1, momentum=0.9))
    return model


def with_weights(model, index, key, value):
    weights = model.get_weights()
    weights[index][key] = value
    return weights


X0, Y0 = data()
NAN_X = X0.copy()
NAN_X[3, 2] = np.nan
INF_X = X0.copy()
INF_X[0, 1] = -np.inf
NAN_W = np.ones(N)
NAN_W[5] = np.nan
NEG_W = np.ones(N)
NEG_W[1] = -0.5

# (id, call(model), exception type, regex the message must match: it names the argument)
MODEL_CASES = [
    # --- shapes
    ("fit_wrong_features", lambda m: m.fit(X0[:, :3], Y0), ValueError, r"X has 3 features, the model expects 4"),
    ("fit_1d_X", lambda m: m.fit(X0[0], Y0[:1]), ValueError, r"X must be a 2-D array.*got 1-D"),
    ("fit_3d_X", lambda m: m.fit(X0.reshape(N, 2, 2), Y0), ValueError, r"X must be a 2-D array.*3-D"),
    ("fit_empty_X", lambda m: m.fit(X0[:0], Y0[:0]), ValueError, r"X must have at least one row"),
    ("fit_y_length", lambda m: m.fit(X0, Y0[:-1]), ValueError, r"y has 39 labels but X has 40 rows"),
    (
        "fit_y_2d_wrong_width",
        lambda m: m.fit(X0, np.eye(2)[Y0 % 2]),
        ValueError,
        r"y must be labels of shape \(40,\) or one-hot of shape \(40, 3\); got \(40, 2\)",
    ),
    ("fit_y_not_one_hot", lambda m: m.fit(X0, np.ones((N, 3))), ValueError, r"y must be one-hot"),
    (
        "fit_sample_weight_shape",
        lambda m: m.fit(X0, Y0, sample_weight=np.ones(3)),
        ValueError,
        r"sample_weight must have shape \(40,\)",
    ),
    (
        "train_step_wrong_features",
        lambda m: m.train_step(X0[:, :2], Y0),
        ValueError,
        r"X has 2 features, the model expects 4",
    ),
    (
        "predict_wrong_features",
        lambda m: m.predict(np.zeros((2, 784))),
        ValueError,
        r"X has 784 features, the model expects 4",
    ),
    ("predict_1d_X", lambda m: m.predict(X0[0]), ValueError, r"X must be a 2-D array.*reshape"),
    ("predict_zero_features", lambda m: m.predict(np.zeros((3, 0))), ValueError, r"X has 0 features"),
    ("evaluate_y_length", lambda m: m.evaluate(X0, Y0[:3]), ValueError, r"y has 3 labels but X has 40 rows"),
    ("gradients_y_length", lambda m: m.gradients(X0[:5], Y0), ValueError, r"y has 40 labels but X has 5 rows"),
    (
        "validation_data_features",
        lambda m: m.fit(X0, Y0, validation_data=(X0[:, :3], Y0)),
        ValueError,
        r"X has 3 features",
    ),
    ("validation_data_y_length", lambda m: m.fit(X0, Y0, validation_data=(X0, Y0[:5])), ValueError, r"y has 5 labels"),
    # --- label values
    ("labels_out_of_range", lambda m: m.fit(X0, np.full(N, 3)), ValueError, r"y holds label 3 .*3 outputs"),
    ("labels_negative", lambda m: m.fit(X0, np.full(N, -1)), ValueError, r"y must hold class labels >= 0"),
    ("labels_non_integer", lambda m: m.fit(X0, Y0 + 0.5), ValueError, r"y must hold integer class labels"),
    ("evaluate_labels_out_of_range", lambda m: m.evaluate(X0, Y0 + 5), ValueError, r"y holds label"),
    ("gradients_labels_out_of_range", lambda m: m.gradients(X0, Y0 + 3), ValueError, r"y holds label"),
    ("train_step_labels_negative", lambda m: m.train_step(X0, -Y0 - 1), ValueError, r"y must hold class labels >= 0"),
    # --- NaN / inf
    ("fit_nan_X", lambda m: m.fit(NAN_X, Y0), ValueError, r"X contains NaN or infinity \(first at index \(3, 2\)"),
    ("predict_inf_X", lambda m: m.predict(INF_X), ValueError, r"X contains NaN or infinity"),
    ("evaluate_nan_X", lambda m: m.evaluate(NAN_X, Y0), ValueError, r"X contains NaN"),
    ("fit_nan_labels", lambda m: m.fit(X0, np.where(Y0 == 0, np.nan, Y0)), ValueError, r"y contains NaN"),
    ("fit_nan_sample_weight", lambda m: m.fit(X0, Y0, sample_weight=NAN_W), ValueError, r"sample_weight contains NaN"),
    (
        "fit_negative_sample_weight",
        lambda m: m.fit(X0, Y0, sample_weight=NEG_W),
        ValueError,
        r"sample_weight must be >= 0",
    ),
    ("validation_nan", lambda m: m.fit(X0, Y0, validation_data=(NAN_X, Y0)), ValueError, r"X contains NaN"),
    (
        "set_weights_nan",
        lambda m: m.set_weights(with_weights(m, 0, "W", np.full((4, 8), np.nan))),
        ValueError,
        r"weights\[0\]\[.W.\] contains NaN",
    ),
    (
        "set_weights_inf",
        lambda m: m.set_weights(with_weights(m, 3, "b", np.array([0.0, np.inf, 0.0]))),
        ValueError,
        r"weights\[3\]\[.b.\] contains NaN or infinity",
    ),
    # --- wrong types
    ("X_string", lambda m: m.predict("abc"), TypeError, r"X must be an array-like of numbers; got str"),
    ("X_none", lambda m: m.fit(None, Y0), TypeError, r"X must be an array-like of numbers; got NoneType"),
    ("X_dict", lambda m: m.evaluate({"a": 1}, Y0), TypeError, r"X must be an array-like of numbers; got dict"),
    ("X_strings_array", lambda m: m.predict(np.array([["a", "b", "c", "d"]])), TypeError, r"X must hold numbers"),
    ("X_complex", lambda m: m.predict(np.zeros((2, 4), complex)), TypeError, r"X must hold numbers"),
    ("X_ragged_list", lambda m: m.predict([[1, 2, 3, 4], [1, 2]]), TypeError, r"X must be an array-like"),
    ("y_none", lambda m: m.fit(X0, None), TypeError, r"y must be an array-like of numbers; got NoneType"),
    ("y_strings", lambda m: m.fit(X0, np.array(["cat"] * N)), TypeError, r"y must hold numbers"),
    (
        "sample_weight_string",
        lambda m: m.fit(X0, Y0, sample_weight="heavy"),
        TypeError,
        r"sample_weight must be an array-like",
    ),
    ("epochs_float", lambda m: m.fit(X0, Y0, epochs=1.5), TypeError, r"epochs must be an integer"),
    ("epochs_string", lambda m: m.fit(X0, Y0, epochs="3"), TypeError, r"epochs must be an integer"),
    ("batch_size_bool", lambda m: m.fit(X0, Y0, batch_size=True), TypeError, r"batch_size must be an integer"),
    ("shuffle_string", lambda m: m.fit(X0, Y0, shuffle="yes"), TypeError, r"shuffle must be True or False"),
    (
        "progress_string",
        lambda m: m.fit(X0, Y0, progress="maybe"),
        TypeError,
        r"progress must be True, False or 'auto'",
    ),
    ("optimizer_int", lambda m: m.fit(X0, Y0, optimizer=3), TypeError, r"optimizer must be a ferronet.optim.Optimizer"),
    ("train_step_optimizer_dict", lambda m: m.train_step(X0, Y0, optimizer={"lr": 1}), TypeError, r"optimizer must be"),
    ("schedule_not_callable", lambda m: m.fit(X0, Y0, schedule=0.5), TypeError, r"schedule must be"),
    (
        "schedule_returns_string",
        lambda m: m.fit(X0, Y0, schedule=lambda e, lr: "fast"),
        TypeError,
        r"learning rate the schedule returned",
    ),
    ("early_stopping_string", lambda m: m.fit(X0, Y0, early_stopping="yes"), TypeError, r"early_stopping must be"),
    (
        "validation_data_array",
        lambda m: m.fit(X0, Y0, validation_data=X0),
        TypeError,
        r"validation_data must be a tuple",
    ),
    ("forward_training_string", lambda m: m.forward(X0, training="no"), TypeError, r"training must be True or False"),
    ("set_weights_string", lambda m: m.set_weights("weights"), TypeError, r"weights must be a list"),
    ("set_weights_layer_not_dict", lambda m: m.set_weights([1, {}, {}, {}]), TypeError, r"weights\[0\] must be a dict"),
    (
        "set_weights_value_string",
        lambda m: m.set_weights(with_weights(m, 0, "b", "zeros")),
        TypeError,
        r"weights\[0\]\[.b.\] must be an array-like",
    ),
    # --- unknown names
    (
        "optimizer_unknown_name",
        lambda m: m.fit(X0, Y0, optimizer="adagrad"),
        ValueError,
        r"optimizer must be one of .*'adagrad'",
    ),
    (
        "train_step_optimizer_unknown",
        lambda m: m.train_step(X0, Y0, optimizer="lbfgs"),
        ValueError,
        r"optimizer must be one of",
    ),
    # --- bad hyperparameters given to fit
    ("epochs_negative", lambda m: m.fit(X0, Y0, epochs=-1), ValueError, r"epochs must be >= 0; got -1"),
    ("batch_size_zero", lambda m: m.fit(X0, Y0, batch_size=0), ValueError, r"batch_size must be >= 1; got 0"),
    (
        "validation_split_one",
        lambda m: m.fit(X0, Y0, validation_split=1.0),
        ValueError,
        r"validation_split must be < 1.0",
    ),
    (
        "validation_split_negative",
        lambda m: m.fit(X0, Y0, validation_split=-0.1),
        ValueError,
        r"validation_split must be >= 0",
    ),
    (
        "validation_split_too_small",
        lambda m: m.fit(X0, Y0, validation_split=0.01),
        ValueError,
        r"validation_split=0.01 of 40 rows",
    ),
    (
        "validation_split_and_data",
        lambda m: m.fit(X0, Y0, validation_split=0.2, validation_data=(X0, Y0)),
        ValueError,
        r"validation_data or validation_split",
    ),
    (
        "early_stopping_without_validation",
        lambda m: m.fit(X0, Y0, early_stopping=fnet.EarlyStopping()),
        ValueError,
        r"EarlyStopping monitors 'val_loss', which needs validation_data or validation_split",
    ),
    (
        "schedule_negative_rate",
        lambda m: m.fit(X0, Y0, optimizer=SGD(lr=0.5), schedule=lambda e, lr: -1.0),
        ValueError,
        r"learning rate the schedule returned for epoch 0 must be >= 0",
    ),
    (
        "schedule_nan_in_epoch_3",
        lambda m: m.fit(X0, Y0, epochs=4, schedule=lambda e, lr: lr if e < 2 else float("nan")),
        ValueError,
        r"schedule returned for epoch 2 must be finite",
    ),
    # --- BatchNorm needs two rows per training batch
    (
        "batchnorm_batch_size_1",
        lambda m: m.fit(X0, Y0, batch_size=1),
        ValueError,
        r"BatchNorm needs at least 2 rows.*batch_size=1",
    ),
    (
        "batchnorm_last_batch_of_1",
        lambda m: m.fit(X0, Y0, batch_size=13),
        ValueError,
        r"BatchNorm.*batch_size=13 over 40 rows",
    ),
    (
        "batchnorm_train_step_1_row",
        lambda m: m.train_step(X0[:1], Y0[:1], optimizer=SGD(lr=1.0)),
        ValueError,
        r"X must have at least 2 rows for BatchNorm in training mode; got 1",
    ),
    # --- set_weights structure
    (
        "set_weights_too_few_layers",
        lambda m: m.set_weights(m.get_weights()[:2]),
        ValueError,
        r"weights must hold one dict per layer \(4\)",
    ),
    (
        "set_weights_wrong_shape",
        lambda m: m.set_weights(with_weights(m, 0, "W", np.zeros((3, 8)))),
        ValueError,
        r"weights\[0\]\[.W.\] must have shape",
    ),
    (
        "set_weights_missing_key",
        lambda m: m.set_weights([{"W": np.zeros((4, 8))}, *m.get_weights()[1:]]),
        ValueError,
        r"weights\[0\]\[.b.\] is missing",
    ),
    (
        "set_weights_extra_key",
        lambda m: m.set_weights(with_weights(m, 2, "mask", np.zeros(8))),
        ValueError,
        r"weights\[2\] must have exactly the keys",
    ),
    (
        "set_weights_negative_running_var",
        lambda m: m.set_weights(with_weights(m, 1, "running_var", -np.ones(8))),
        ValueError,
        r"weights\[1\]\[.running_var.\] must be >= 0",
    ),
]


@pytest.mark.parametrize(
    ("call", "exception", "match"), [case[1:] for case in MODEL_CASES], ids=[case[0] for case in MODEL_CASES]
)
def test_bad_call_raises_and_leaves_the_model_unchanged(call, exception, match):
    model, twin = trained_model(), trained_model()
    before = model.get_weights()
    with pytest.raises(exception, match=match):
        call(model)
    assert_weights_equal(model.get_weights(), before)
    # weights, BatchNorm statistics, optimizer state (momentum) and step counter: the model continues exactly as
    # its twin that never saw the bad call (fit without an optimizer continues with the last one)
    X, y = data()
    model.fit(X, y, epochs=1, batch_size=8)
    twin.fit(X, y, epochs=1, batch_size=8)
    assert_weights_equal(model.get_weights(), twin.get_weights())


def test_there_are_at_least_30_distinct_cases():
    assert len({case[0] for case in MODEL_CASES}) == len(MODEL_CASES) >= 30


@pytest.mark.parametrize(
    ("call", "exception", "match"),
    [
        (lambda m: m.fit(np.zeros((4, 5)), [0, 1, 2, 7]), ValueError, r"y holds label 7"),
        (lambda m: m.fit(np.zeros((4, 5)), [0, 1, 2, 1], validation_split=0.1), ValueError, r"validation_split"),
        (lambda m: m.fit(np.zeros((4, 5)), [0, 1, 2, 1], batch_size=0), ValueError, r"batch_size"),
        (lambda m: m.train_step(np.zeros((4, 5)), [0, 1, 2, 1], optimizer=3), TypeError, r"optimizer"),
        (lambda m: m.train_step(np.zeros((4, 5)), [0, 1, 2], optimizer=3), ValueError, r"y has 3 labels"),
    ],
    ids=["bad_labels", "bad_split", "bad_batch_size", "bad_optimizer", "bad_y_length"],
)
def test_failed_first_fit_leaves_the_model_unbuilt(call, exception, match):
    model = fnet.Sequential([fnet.Dense(6, activation="relu"), fnet.Dense(3)], dtype="float64", seed=1)
    with pytest.raises(exception, match=match):
        call(model)
    assert not model.built and model.input_dim is None
    X, y = data()  # 4 features, not the 5 of the failed call
    model.fit(X, y, epochs=1)
    assert model.input_dim == 4
    fresh = fnet.Sequential([fnet.Dense(6, activation="relu"), fnet.Dense(3)], dtype="float64", seed=1)
    fresh.fit(X, y, epochs=1)
    assert_weights_equal(model.get_weights(), fresh.get_weights())


def test_other_losses_target_errors():
    generator = np.random.default_rng(0)
    X = generator.normal(size=(10, 4))
    mse = fnet.Sequential([fnet.Dense(2)], input_dim=4, loss="mse", dtype="float64")
    bce = fnet.Sequential(
        [fnet.Dense(2, activation="sigmoid")], input_dim=4, loss="binary_cross_entropy", dtype="float64"
    )
    before = (mse.get_weights(), bce.get_weights())
    Y = generator.normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"y must have shape \(10, 2\)"):
        mse.fit(X, Y[:, 0])
    Y_nan = Y.copy()
    Y_nan[4, 1] = np.inf
    with pytest.raises(ValueError, match=r"y contains NaN or infinity \(first at index \(4, 1\)"):
        mse.fit(X, Y_nan)
    with pytest.raises(ValueError, match=r"y must hold values in \[0, 1\]"):
        bce.fit(X, np.full((10, 2), 2.0))
    with pytest.raises(ValueError, match=r"predict_proba.*mse"):
        mse.predict_proba(X)
    assert_weights_equal(mse.get_weights(), before[0])
    assert_weights_equal(bce.get_weights(), before[1])


def test_float_overflow_in_conversion_is_reported_as_infinity():
    """1e300 fits in float64 but not in a float32 model: counted as infinity, a ValueError, no NumPy warning."""
    model = fnet.Sequential([fnet.Dense(3)], input_dim=4, dtype="float32")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"X contains NaN or infinity"):
        model.predict(np.full((2, 4), 1e300))
    with pytest.raises(ValueError, match=r"weights\[0\]\[.W.\] contains NaN or infinity"):
        model.set_weights([{"W": np.full((4, 3), 1e39), "b": np.zeros(3)}])
    assert_weights_equal(model.get_weights(), before)


# ------------------------------------------------------------------------------------------ constructors

CONSTRUCTOR_CASES = [
    # Sequential
    ("layers_dict", lambda: fnet.Sequential({"dense": 3}), TypeError, r"layers must be a list of ferronet layers"),
    ("layers_single_layer", lambda: fnet.Sequential(fnet.Dense(3)), TypeError, r"layers must be a list"),
    ("layers_string_item", lambda: fnet.Sequential(["dense"]), TypeError, r"layers\[0\] must be a ferronet layer"),
    ("layers_empty", lambda: fnet.Sequential([]), ValueError, r"layers must hold at least one layer"),
    (
        "layers_no_dense",
        lambda: fnet.Sequential([fnet.Dropout(0.1)]),
        ValueError,
        r"layers must include at least one Dense",
    ),
    (
        "softmax_not_last",
        lambda: fnet.Sequential([fnet.Dense(3, activation="softmax"), fnet.Dense(2)]),
        ValueError,
        r"softmax.*layers\[0\]",
    ),
    ("loss_unknown", lambda: fnet.Sequential([fnet.Dense(3)], loss="nll"), ValueError, r"loss must be one of .*'nll'"),
    ("loss_none", lambda: fnet.Sequential([fnet.Dense(3)], loss=None), TypeError, r"loss must be one of"),
    (
        "dtype_float16",
        lambda: fnet.Sequential([fnet.Dense(3)], dtype="float16"),
        ValueError,
        r"dtype must be 'float32' or 'float64'",
    ),
    ("dtype_list", lambda: fnet.Sequential([fnet.Dense(3)], dtype=[1]), TypeError, r"dtype must be"),
    ("seed_negative", lambda: fnet.Sequential([fnet.Dense(3)], seed=-1), ValueError, r"seed must be >= 0"),
    ("seed_string", lambda: fnet.Sequential([fnet.Dense(3)], seed="0"), TypeError, r"seed must be an integer"),
    ("l2_negative", lambda: fnet.Sequential([fnet.Dense(3)], l2=-1e-3), ValueError, r"l2 must be >= 0"),
    ("l1_nan", lambda: fnet.Sequential([fnet.Dense(3)], l1=float("nan")), ValueError, r"l1 must be finite"),
    ("input_dim_zero", lambda: fnet.Sequential([fnet.Dense(3)], input_dim=0), ValueError, r"input_dim must be >= 1"),
    (
        "input_dim_float",
        lambda: fnet.Sequential([fnet.Dense(3)], input_dim=4.0),
        TypeError,
        r"input_dim must be an integer",
    ),
    (
        "arch_relu_last",
        lambda: fnet.Sequential.from_architecture([{"input_dim": 2, "output_dim": 3, "activation": "relu"}]),
        ValueError,
        r"loss",
    ),
    (
        "arch_mismatch",
        lambda: fnet.Sequential.from_architecture(
            [
                {"input_dim": 2, "output_dim": 3, "activation": "relu"},
                {"input_dim": 4, "output_dim": 2, "activation": "softmax"},
            ]
        ),
        ValueError,
        r"architecture\[1\] has input_dim 4",
    ),
    ("arch_not_list", lambda: fnet.Sequential.from_architecture({"input_dim": 2}), TypeError, r"architecture must be"),
    (
        "arch_unknown_key",
        lambda: fnet.Sequential.from_architecture([{"input_dim": 2, "output_dim": 3, "act": "relu"}]),
        ValueError,
        r"architecture\[0\] must have keys",
    ),
    # Dense, Activation, Dropout, BatchNorm
    ("dense_activation", lambda: fnet.Dense(3, activation="gelu"), ValueError, r"activation must be one of .*'gelu'"),
    ("dense_init", lambda: fnet.Dense(3, init="glorot"), ValueError, r"init must be one of .*'glorot'"),
    ("dense_units_zero", lambda: fnet.Dense(0), ValueError, r"units must be >= 1"),
    ("dense_units_string", lambda: fnet.Dense("3"), TypeError, r"units must be an integer"),
    ("dense_units_huge", lambda: fnet.Dense(10**12), ValueError, r"units must be <="),
    ("dense_dropconnect_one", lambda: fnet.Dense(3, dropconnect=1.0), ValueError, r"dropconnect must be < 1"),
    ("activation_unknown", lambda: fnet.Activation("swish"), ValueError, r"activation must be one of"),
    ("activation_none", lambda: fnet.Activation(None), TypeError, r"activation must be one of"),
    ("dropout_one", lambda: fnet.Dropout(1.0), ValueError, r"p must be < 1"),
    ("dropout_negative", lambda: fnet.Dropout(-0.1), ValueError, r"p must be >= 0"),
    ("dropout_string", lambda: fnet.Dropout("half"), TypeError, r"p must be a number"),
    ("batchnorm_eps_zero", lambda: fnet.BatchNorm(eps=0.0), ValueError, r"eps must be > 0"),
    ("batchnorm_momentum_one", lambda: fnet.BatchNorm(momentum=1.0), ValueError, r"momentum must be < 1"),
    # optimizers
    ("sgd_negative_lr", lambda: SGD(lr=-0.1), ValueError, r"lr must be >= 0"),
    ("sgd_lr_string", lambda: SGD(lr="0.1"), TypeError, r"lr must be a number"),
    ("sgd_momentum_one", lambda: SGD(momentum=1.0), ValueError, r"momentum must be < 1"),
    ("sgd_nesterov_without_momentum", lambda: SGD(nesterov=True), ValueError, r"nesterov=True needs momentum > 0"),
    ("sgd_nesterov_string", lambda: SGD(momentum=0.9, nesterov="yes"), TypeError, r"nesterov must be True or False"),
    ("adam_eps_zero", lambda: Adam(eps=0.0), ValueError, r"eps must be > 0"),
    ("adam_beta1_one", lambda: Adam(beta1=1.0), ValueError, r"beta1 must be < 1"),
    ("adam_beta2_negative", lambda: Adam(beta2=-0.5), ValueError, r"beta2 must be >= 0"),
    ("adam_lr_inf", lambda: Adam(lr=float("inf")), ValueError, r"lr must be finite"),
    ("rmsprop_rho_one", lambda: RMSProp(rho=1.0), ValueError, r"rho must be < 1"),
    ("rmsprop_eps_negative", lambda: RMSProp(eps=-1e-8), ValueError, r"eps must be > 0"),
    # schedules
    ("step_decay_factor_zero", lambda: StepDecay(factor=0.0), ValueError, r"factor must be > 0"),
    ("step_decay_every_zero", lambda: StepDecay(every=0), ValueError, r"every must be >= 1"),
    ("step_decay_every_float", lambda: StepDecay(every=1.5), TypeError, r"every must be an integer"),
    ("inverse_time_negative", lambda: InverseTimeDecay(decay=-1.0), ValueError, r"decay must be >= 0"),
    ("exponential_gamma_zero", lambda: ExponentialDecay(gamma=0.0), ValueError, r"gamma must be > 0"),
    ("exponential_gamma_none", lambda: ExponentialDecay(gamma=None), TypeError, r"gamma must be a number"),
    # early stopping
    (
        "early_stopping_monitor",
        lambda: fnet.EarlyStopping(monitor="val_acc"),
        ValueError,
        r"monitor must be one of .*'val_acc'",
    ),
    ("early_stopping_patience", lambda: fnet.EarlyStopping(patience=-1), ValueError, r"patience must be >= 0"),
    ("early_stopping_min_delta", lambda: fnet.EarlyStopping(min_delta=-0.1), ValueError, r"min_delta must be >= 0"),
    (
        "early_stopping_restore_best",
        lambda: fnet.EarlyStopping(restore_best="yes"),
        TypeError,
        r"restore_best must be True or False",
    ),
    # threads
    ("set_num_threads_zero", lambda: fnet.set_num_threads(0), ValueError, r"n must be >= 1"),
    ("set_num_threads_string", lambda: fnet.set_num_threads("2"), TypeError, r"n must be an integer"),
]


@pytest.mark.parametrize(
    ("make", "exception", "match"),
    [case[1:] for case in CONSTRUCTOR_CASES],
    ids=[case[0] for case in CONSTRUCTOR_CASES],
)
def test_bad_constructor_arguments(make, exception, match):
    threads = fnet.get_num_threads()
    with pytest.raises(exception, match=match):
        make()
    assert fnet.get_num_threads() == threads


# ------------------------------------------------------------------------------------------ unusual but valid


def _variants(X: np.ndarray) -> dict:
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    wide[::2, ::3] = X
    readonly = X.copy()
    readonly.flags.writeable = False
    return {
        "non_contiguous": wide[::2, ::3],
        "fortran": np.asfortranarray(X),
        "read_only": readonly,
        "list": X.tolist(),
        "float32_input": X.astype(np.float32),
    }


@pytest.mark.parametrize("variant", ["non_contiguous", "fortran", "read_only", "list", "float32_input"])
def test_unusual_layouts_of_X_give_the_same_results(variant):
    X, y = data()
    if variant == "float32_input":
        X = X.astype(np.float32).astype(np.float64)  # exactly representable either way
    odd = _variants(X)[variant]
    if isinstance(odd, np.ndarray):
        assert variant != "non_contiguous" or not odd.flags.c_contiguous
        assert variant != "fortran" or (odd.flags.f_contiguous and not odd.flags.c_contiguous)
        saved = odd.copy()
    plain, unusual = trained_model(), trained_model()
    np.testing.assert_array_equal(unusual.predict(odd), plain.predict(X))
    np.testing.assert_array_equal(unusual.forward(odd), plain.forward(X))
    assert unusual.evaluate(odd, y) == plain.evaluate(X, y)
    assert_weights_equal(unusual.gradients(odd, y), plain.gradients(X, y))
    h_plain = plain.fit(X, y, epochs=2, batch_size=8).history
    h_unusual = unusual.fit(odd, y, epochs=2, batch_size=8).history
    assert h_plain["loss"] == h_unusual["loss"]
    assert unusual.train_step(odd, y) == plain.train_step(X, y)
    assert_weights_equal(unusual.get_weights(), plain.get_weights())
    if isinstance(odd, np.ndarray):
        np.testing.assert_array_equal(odd, saved)  # the caller's array is never modified


@pytest.mark.parametrize("kind", ["float16", "int", "bool", "uint8"])
def test_other_dtypes_of_X(kind):
    generator = np.random.default_rng(3)
    if kind == "float16":
        X = generator.normal(size=(N, D)).astype(np.float16)
    elif kind == "int":
        X = generator.integers(-3, 4, (N, D))
    elif kind == "uint8":
        X = generator.integers(0, 256, (N, D)).astype(np.uint8) // 64
    else:
        X = generator.integers(0, 2, (N, D)).astype(bool)
    _, y = data()
    reference = X.astype(np.float64)  # every such value is exactly a float64
    plain, unusual = trained_model(), trained_model()
    np.testing.assert_array_equal(unusual.forward(X), plain.forward(reference))
    assert unusual.evaluate(X, y) == plain.evaluate(reference, y)
    unusual.fit(X, y, epochs=1, batch_size=8)
    plain.fit(reference, y, epochs=1, batch_size=8)
    assert_weights_equal(unusual.get_weights(), plain.get_weights())


@pytest.mark.parametrize(
    "kind", ["list", "int32", "uint8", "whole_floats", "read_only", "non_contiguous", "one_hot_bool"]
)
def test_unusual_labels(kind):
    X, y = data()
    if kind == "list":
        odd = y.tolist()
    elif kind == "int32":
        odd = y.astype(np.int32)
    elif kind == "uint8":
        odd = y.astype(np.uint8)
    elif kind == "whole_floats":
        odd = y.astype(np.float64)
    elif kind == "read_only":
        odd = y.copy()
        odd.flags.writeable = False
    elif kind == "non_contiguous":
        odd = np.repeat(y, 2)[::2]
        assert not odd.flags.c_contiguous or odd.strides[0] != odd.itemsize
    else:
        odd = np.eye(3, dtype=bool)[y]
    plain, unusual = trained_model(), trained_model()
    assert unusual.evaluate(X, odd) == plain.evaluate(X, y)
    unusual.fit(X, odd, epochs=1, batch_size=8)
    plain.fit(X, y, epochs=1, batch_size=8)
    assert_weights_equal(unusual.get_weights(), plain.get_weights())


def test_unusual_sample_weights_and_targets():
    X, y = data()
    weights = np.arange(N) % 3
    plain, unusual = trained_model(), trained_model()
    plain.fit(X, y, epochs=1, batch_size=8, sample_weight=weights.astype(np.float64))
    unusual.fit(X, y, epochs=1, batch_size=8, sample_weight=weights.tolist())
    assert_weights_equal(unusual.get_weights(), plain.get_weights())
    # bool targets for binary cross-entropy, a list of floats for mse
    bce = fnet.Sequential([fnet.Dense(1)], input_dim=D, loss="binary_cross_entropy", dtype="float64")
    assert bce.evaluate(X, y == 1) == bce.evaluate(X, (y == 1).astype(np.float64))
    mse = fnet.Sequential([fnet.Dense(1)], input_dim=D, loss="mse", dtype="float64")
    assert mse.evaluate(X, X[:, 0].tolist()) == mse.evaluate(X, X[:, 0])


def test_float32_model_accepts_float64_input_and_keeps_it():
    X, y = data()
    model = fnet.Sequential([fnet.Dense(5, activation="tanh"), fnet.Dense(3)], input_dim=D, dtype="float32")
    saved = X.copy()
    model.fit(X, y, epochs=1, batch_size=8)
    np.testing.assert_array_equal(X, saved)
    assert X.dtype == np.float64
    twin = fnet.Sequential([fnet.Dense(5, activation="tanh"), fnet.Dense(3)], input_dim=D, dtype="float32")
    twin.fit(X.astype(np.float32), y, epochs=1, batch_size=8)
    assert_weights_equal(model.get_weights(), twin.get_weights())
