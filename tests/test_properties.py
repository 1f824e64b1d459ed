"""Property tests: whatever arguments the public functions get, the only outcomes are a valid result or a
ValueError/TypeError with a message, and a model method that raised leaves the model as it was.

Hypothesis draws shapes (including 0 and 1), dtypes (float16/32/64, ints, bool, complex, object, strings), NaN and
infinities, wrong types, huge/negative/zero hyperparameters, lists, and non-contiguous, Fortran-ordered and read-only
arrays. Any other exception (a Rust panic surfaces as ``PanicException``), a warning (warnings are errors in this
test suite) or a crash fails the test. ``BAD`` counts the inputs that were refused, ``TRIED`` all inputs.
"""

from __future__ import annotations

import collections
import math
import time

import ferronet as fnet
import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from conftest import assert_weights_equal
from ferronet import ops
from ferronet.optim import SGD, Adam, RMSProp
from ferronet.schedules import ExponentialDecay, InverseTimeDecay, StepDecay
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TRIED: collections.Counter = collections.Counter()
BAD: collections.Counter = collections.Counter()

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(
        f"\nproperty tests: {sum(TRIED.values())} inputs tried, {sum(BAD.values())} refused with ValueError/TypeError"
    )
    for name in sorted(TRIED):
        print(f"  {name}: {TRIED[name]} tried, {BAD[name]} refused")


def attempt(name: str, call):
    """Call; a ValueError/TypeError (with a message) counts as a refused input, anything else propagates."""
    TRIED[name] += 1
    try:
        return True, call()
    except (ValueError, TypeError) as error:
        assert str(error), f"{name}: {type(error).__name__} without a message"
        BAD[name] += 1
        return False, error


# ------------------------------------------------------------------------------------------ strategies

SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 65504.0, 3.5e38, 1.0, 0.5]

junk = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.booleans(),
    st.complex_numbers(max_magnitude=10),
    st.just({}),
    st.just({"a": 1}),
    st.just(set()),
    st.just(object()),
    st.lists(st.integers(-3, 3), max_size=3),
    st.just(np.array(2.0)),
    st.just(np.float32(0.5)),
    st.just(np.int64(3)),
    st.just(np.bool_(True)),
    st.just(slice(1)),
)
any_number = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(SPECIAL_FLOATS),
)
hyper = st.one_of(any_number, junk)


def mostly(valid, invalid, share: float = 0.85):
    """``valid`` with probability ``share``, else ``invalid`` (so that calls get past the first check often)."""
    return st.integers(0, 99).flatmap(lambda i: valid if i < 100 * share else invalid)


#: Counts: small valid ones, or out of every range (never huge-but-valid: that would allocate gigabytes).
counts = st.one_of(st.integers(-3, 8), st.integers(2**64, 2**70), st.integers(-(2**70), -1), junk, st.floats())
unit = mostly(st.floats(0.0, 0.99), hyper)
positive = mostly(st.floats(1e-6, 10.0), hyper)

NUMERIC_DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "uint64", "bool"]
ODD_DTYPES = ["complex128", "object", "U2", "datetime64[s]", "S2"]


def _elements(dtype: np.dtype, finite: bool):
    if dtype.kind == "f":
        values = st.floats(-10, 10, width=8 * dtype.itemsize)
        return values if finite else st.one_of(values, st.sampled_from([math.nan, math.inf, -math.inf]))
    if dtype.kind == "O":
        return st.one_of(st.floats(-3, 3), st.integers(-3, 3), st.text(max_size=2), st.none())
    if dtype.kind in "iu":
        return st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)) if not finite else st.integers(0, 3)
    return None


@st.composite
def arrays(draw, shape=None, dtypes=None, finite=None):
    """An array-like: a NumPy array of a drawn dtype and shape in one of several layouts, or a nested list."""
    dtype = np.dtype(draw(st.sampled_from(dtypes or NUMERIC_DTYPES + ODD_DTYPES)))
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    finite = draw(mostly(st.just(True), st.just(False), 0.75)) if finite is None else finite
    array = draw(hnp.arrays(dtype, shape, elements=_elements(dtype, finite)))
    layout = draw(st.sampled_from(["plain", "fortran", "strided", "reversed", "read_only", "list"]))
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=array.ndim - 1)[..., ::2]
    elif layout == "reversed" and array.ndim:
        array = array[::-1]
    elif layout == "read_only":
        array.flags.writeable = False
    elif layout == "list" and dtype.kind in "biuf":
        return array.tolist()
    return array


def like(shape, finite=None):
    """Mostly a numeric array of ``shape``; sometimes anything at all."""
    return mostly(arrays(shape, NUMERIC_DTYPES, finite), st.one_of(arrays(), junk))


@st.composite
def sparse_matrices(draw, shape):
    """A SciPy sparse matrix of ``shape``: CSR, CSC, a sparse array, another format, non-finite or integer values,
    unsorted or out-of-range column indices (SciPy's constructor does not check them)."""
    import scipy.sparse as sparse

    dense = np.asarray(draw(arrays(shape, ["float32", "float64", "int32", "int8", "bool"])))
    form = draw(st.sampled_from(["csr", "csc", "csr_array", "coo", "lil", "unsorted", "bad_index"]))
    matrix = sparse.csr_matrix(dense)
    if form == "csc":
        return matrix.tocsc()
    if form == "csr_array":
        return sparse.csr_array(matrix)
    if form in ("coo", "lil"):
        return matrix.asformat(form)
    indices = matrix.indices[::-1].copy() if form == "unsorted" else matrix.indices.copy()
    if form == "bad_index" and indices.size:
        indices[draw(st.integers(0, indices.size - 1))] = draw(st.sampled_from([shape[1], shape[1] + 7, -1]))
    data = matrix.data[::-1].copy() if form == "unsorted" else matrix.data
    return sparse.csr_matrix((data, indices, matrix.indptr), shape=matrix.shape)


def sparse_like(shape):
    """Mostly a sparse matrix of ``shape``; sometimes anything at all (a dense array included)."""
    return mostly(sparse_matrices(shape), st.one_of(like(shape), junk))


def _snapshot(args):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else None for a in args]


def _unchanged(args, copies):
    for arg, copy in zip(args, copies, strict=True):
        if copy is not None:
            assert arg.dtype == copy.dtype and arg.shape == copy.shape
            if arg.dtype.kind in "biufc":
                assert np.array_equal(arg, copy, equal_nan=arg.dtype.kind in "fc"), "an input was modified"


# ------------------------------------------------------------------------------------------ constructors

layer_objects = st.one_of(
    st.builds(fnet.Dense, st.integers(1, 6), st.sampled_from(["relu", "tanh", "sigmoid", "linear", "leaky_relu"])),
    st.builds(fnet.Dropout, st.floats(0, 0.9)),
    st.builds(fnet.BatchNorm),
    st.builds(fnet.Activation, st.sampled_from(["relu", "tanh"])),
    st.builds(fnet.Dense, st.just(3), st.just("softmax")),
)
names = st.one_of(
    st.sampled_from(["relu", "tanh", "sigmoid", "linear", "leaky_relu", "softmax", "he", "xavier", "zeros"]),
    st.text(max_size=6),
    junk,
)


@SETTINGS
@given(
    kind=st.sampled_from(["dense", "dropout", "batchnorm", "activation", "sequential", "from_architecture"]),
    a=mostly(st.integers(1, 8), st.one_of(counts, hyper, names)),
    b=mostly(st.sampled_from(["relu", "tanh", "sigmoid", "linear", "leaky_relu", "softmax"]), st.one_of(names, hyper)),
    c=mostly(st.sampled_from(["he", "xavier", "uniform", "small", "zeros", "lecun", "xavier_uniform"]), names),
    c_last=mostly(st.sampled_from(["softmax", "sigmoid", "linear"]), names),
    d=mostly(st.floats(0.0, 0.99), hyper),
    e=mostly(st.floats(1e-8, 1.0), hyper),
    layers=mostly(
        st.lists(layer_objects, min_size=1, max_size=4), st.one_of(st.lists(st.one_of(layer_objects, junk)), junk)
    ),
    dtype=mostly(st.sampled_from(["float32", "float64", np.float64, np.float32]), st.one_of(names, junk)),
    loss=mostly(st.sampled_from(["softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"]), names),
)
def test_layer_and_model_constructors(kind, a, b, c, c_last, d, e, layers, dtype, loss):
    if kind == "dense":
        ok, layer = attempt("Dense", lambda: fnet.Dense(a, activation=b, init=c, dropconnect=d))
        if ok:
            assert 1 <= layer.units <= 2**24 and 0 <= layer.dropconnect < 1
    elif kind == "dropout":
        ok, layer = attempt("Dropout", lambda: fnet.Dropout(d))
        assert not ok or 0 <= layer.p < 1
    elif kind == "batchnorm":
        ok, layer = attempt("BatchNorm", lambda: fnet.BatchNorm(momentum=d, eps=e))
        assert not ok or (0 < layer.momentum < 1 and layer.eps > 0)
    elif kind == "activation":
        attempt("Activation", lambda: fnet.Activation(b))
    elif kind == "sequential":
        input_dim = a  # small, or beyond every bound (see counts): never gigabytes of weights
        ok, model = attempt(
            "Sequential",
            lambda: fnet.Sequential(layers, input_dim=input_dim, loss=loss, l2=d, l1=0.0, dtype=dtype, seed=7),
        )
        if ok and model.built:
            assert model.n_params >= 1
            out = model.forward(np.zeros((2, model.input_dim)))
            assert out.shape == (2, model.output_dim)
    else:
        spec = [{"input_dim": a, "output_dim": 3, "activation": b}, {"output_dim": a, "activation": c_last}]
        ok, model = attempt("Sequential.from_architecture", lambda: fnet.Sequential.from_architecture(spec, seed=a))
        assert not ok or model.output_dim == a


@SETTINGS
@given(
    kind=st.sampled_from(["sgd", "adam", "rmsprop", "step", "inverse", "exponential"]),
    a=mostly(st.floats(0, 2), hyper),
    b=unit,
    c=mostly(st.one_of(positive, st.integers(1, 5)), hyper),
    epoch=mostly(st.integers(-(2**70), 2**70), hyper),
    lr0=mostly(st.floats(0, 1), hyper),
)
def test_optimizer_and_schedule_constructors(kind, a, b, c, epoch, lr0):
    if kind == "sgd":
        ok, opt = attempt("SGD", lambda: SGD(lr=a, momentum=b, nesterov=c if not isinstance(c, float) else c > 1))
        assert not ok or (opt.lr >= 0 and 0 <= opt.momentum < 1)
    elif kind == "adam":
        ok, opt = attempt("Adam", lambda: Adam(lr=a, beta1=b, beta2=b, eps=c))
        assert not ok or (0 <= opt.beta1 < 1 and opt.eps > 0)
    elif kind == "rmsprop":
        ok, opt = attempt("RMSProp", lambda: RMSProp(lr=a, rho=b, eps=c))
        assert not ok or (0 <= opt.rho < 1 and opt.eps > 0)
    else:
        make = {"step": lambda: StepDecay(factor=a, every=c), "inverse": lambda: InverseTimeDecay(a)}
        make["exponential"] = lambda: ExponentialDecay(a)
        ok, schedule = attempt(f"schedule {kind}", make[kind])
        if ok:
            # a schedule is a public callable too: a number or a TypeError, never OverflowError
            done, rate = attempt(f"schedule {kind} call", lambda: schedule(epoch, lr0))
            assert not done or isinstance(rate, (float, np.floating))  # np.float32 when epoch is one
            # and fit sees every rate it returns checked: finite and >= 0, else a ValueError naming the epoch
            if isinstance(epoch, int) and 0 <= epoch < 2**64:
                attempt("learning_rate", lambda: fnet.schedules.learning_rate(schedule, epoch, 0.1))


# ------------------------------------------------------------------------------------------ model methods

N_FEATURES = 4
METHODS = ["fit", "train_step", "predict", "predict_proba", "evaluate", "forward", "gradients", "set_weights"]
optimizers = st.one_of(
    st.none(),
    st.sampled_from(["sgd", "adam", "rmsprop", "adagrad", ""]),
    st.builds(SGD, st.floats(0, 0.5), st.floats(0, 0.9)),
    st.builds(Adam, st.floats(0, 0.1)),
    st.builds(RMSProp, st.floats(0, 0.1)),
    junk,
)
schedules = st.one_of(
    st.none(),
    st.builds(StepDecay, st.floats(0.1, 3.0), st.integers(1, 3)),
    st.builds(ExponentialDecay, st.floats(0.1, 3.0)),
    st.just(lambda epoch, lr0: math.nan),
    st.just(lambda epoch, lr0: -1.0),
    st.just(lambda epoch, lr0: "fast"),
    st.just(lambda epoch, lr0: lr0 * 1e300),
    junk,
)


def _counters(model):
    engine = model._engine
    return dict(engine.counters) if engine is not None else None


@st.composite
def model_calls(draw):
    """A small model (built or not), a method and its arguments: shapes mostly right, contents anything."""
    loss = draw(st.sampled_from(["softmax_cross_entropy", "mse", "binary_cross_entropy", "hinge", "poisson"]))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    layers = [fnet.Dense(5, activation="relu"), fnet.BatchNorm(), fnet.Dropout(0.2), fnet.Dense(3)]
    if draw(st.booleans()):
        layers = [fnet.Dense(5, activation="tanh", dropconnect=0.1), fnet.Dense(3)]
    built = draw(st.integers(0, 4)) > 0
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 8]))
    cols = draw(mostly(st.just(N_FEATURES), st.sampled_from([0, 1, 5])))
    dense_X = mostly(like((n, cols), finite=True), st.one_of(like((n, cols)), arrays()))
    X = draw(mostly(dense_X, sparse_matrices((n, cols)), 0.8))
    y_shape = draw(st.sampled_from([(n,), (n, 3), (n, 1), (n + 1,), ()]))
    if loss in ("softmax_cross_entropy", "hinge"):
        y = draw(mostly(arrays((n,), ["int64", "int32", "uint8", "float64", "bool"], True), like(y_shape)))
    else:
        y = draw(mostly(arrays((n, 3), ["float32", "float64", "bool"], True), like(y_shape)))
    method = draw(st.sampled_from(METHODS))
    kwargs = {}
    if method in ("fit", "train_step", "evaluate", "gradients") and draw(st.booleans()):
        kwargs["sample_weight"] = draw(st.one_of(like((n,)), like((n,), finite=True)))
    if method in ("fit", "train_step") and draw(st.booleans()):
        kwargs["optimizer"] = draw(optimizers)
    if method == "fit":
        extra = {
            "epochs": st.one_of(st.integers(-2, 3), st.integers(-(2**70), -1), junk),
            "batch_size": st.one_of(st.integers(-1, 9), st.integers(2**40, 2**70), junk),
            "schedule": schedules,
            "shuffle": st.one_of(st.booleans(), junk),
            "validation_split": st.one_of(st.floats(0, 0.9), hyper),
            "validation_data": st.one_of(st.tuples(like((2, N_FEATURES), True), like((2,), True)), junk),
            "early_stopping": st.one_of(st.builds(fnet.EarlyStopping, st.sampled_from(["loss", "val_loss"])), junk),
            "progress": st.one_of(st.just(False), st.just("auto"), junk),
            "verbose": st.one_of(st.booleans(), junk),
        }
        for key in draw(st.lists(st.sampled_from(sorted(extra)), max_size=4, unique=True)):
            kwargs[key] = draw(extra[key])
    if method == "forward" and draw(st.booleans()):
        kwargs["training"] = draw(st.one_of(st.booleans(), junk))
    weights = None
    if method == "set_weights":
        weights = draw(mostly(st.just("from_model"), st.lists(st.dictionaries(st.sampled_from("Wb"), like((4, 5))))))
        weights = (weights, draw(st.integers(0, 3)), draw(st.sampled_from(["W", "b", "gamma", "running_var", "x"])))
        weights = (*weights, draw(st.one_of(like((5,)), like((4, 5)), like((5, 3)), arrays(), junk)))
    return loss, dtype, layers, built, X, y, method, kwargs, weights


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(model_calls())
def test_model_methods(case):
    loss, dtype, layers, built, X, y, method, kwargs, weights = case
    model = fnet.Sequential(layers, input_dim=N_FEATURES if built else None, loss=loss, dtype=dtype, seed=3)
    if built:
        model.train_step(np.ones((4, N_FEATURES)), np.eye(3)[[0, 1, 2, 0]] if loss != "hinge" else [0, 1, 2, 0])
    before = model.get_weights() if built else None
    counters = _counters(model)
    copies = _snapshot([X, y, kwargs.get("sample_weight")])
    if method == "set_weights":
        given_weights, index, key, value = weights
        if given_weights == "from_model":
            given_weights = model.get_weights() if built else []
            if given_weights:
                given_weights[index % len(given_weights)][key] = value
        call = lambda: model.set_weights(given_weights)  # noqa: E731
    elif method in ("predict", "predict_proba", "forward"):
        call = lambda: getattr(model, method)(X, **kwargs)  # noqa: E731
    else:
        call = lambda: getattr(model, method)(X, y, **kwargs)  # noqa: E731
    ok, result = attempt(f"Sequential.{method}", call)
    _unchanged([X, y, kwargs.get("sample_weight")], copies)
    if not ok:
        if built:
            assert_weights_equal(model.get_weights(), before)
            assert _counters(model) == counters
        else:
            assert not model.built
        return
    rows = (X.shape[0] if hasattr(X, "tocsr") else np.asarray(X).shape[0]) if method != "set_weights" else None
    if method == "predict":
        assert isinstance(result, np.ndarray) and result.shape[0] == rows
    elif method in ("predict_proba", "forward"):
        assert isinstance(result, np.ndarray) and result.shape[0] == rows and result.shape[1] >= 1
        assert method != "predict_proba" or np.allclose(result.sum(axis=1), 1.0) or loss == "binary_cross_entropy"
    elif method == "evaluate":
        assert set(result) >= {"loss"} and isinstance(result["loss"], float)
    elif method == "fit":
        assert isinstance(result, fnet.History)
        assert all(math.isfinite(v) for v in result.history["loss"])
    elif method == "train_step":
        assert isinstance(result, float) and math.isfinite(result)
    elif method == "gradients":
        assert len(result) == len(model.layers)
    assert all(np.isfinite(a).all() for layer in model.get_weights() for a in layer.values())


# ------------------------------------------------------------------------------------------ fnet.ops

#: Each kernel's arguments: ("array", shape key) where n, k, m are drawn sizes; "labels", "mask", "float",
#: "unit" (a probability), "count", "name"; a trailing "?" marks an optional argument.
OPS = {
    "dense_forward": [("array", "nk"), ("array", "km"), ("array", "m")],
    "dense_backward": [("array", "nk"), ("array", "km"), ("array", "nm")],
    "dense_weight_grads": [("array", "nk"), ("array", "nm")],
    "sparse_dense_forward": [("sparse", "nk"), ("array", "km"), ("array", "m")],
    "sparse_dense_weight_grads": [("sparse", "nk"), ("array", "nm")],
    "softmax_cross_entropy": [("array", "nk"), ("labels",), ("weights?",)],
    "mse": [("array", "nk"), ("array", "nk"), ("weights?",)],
    "binary_cross_entropy": [("array", "nk"), ("array", "nk"), ("weights?",)],
    "hinge": [("array", "nk"), ("labels",), ("weights?",)],
    "poisson": [("array", "nk"), ("array", "nk"), ("weights?",)],
    "penalty": [("array", "nk"), ("float",), ("float",)],
    "penalty_grad": [("array", "nk"), ("float",), ("float",)],
    "batchnorm_forward_train": [("array", "nk"), ("array", "k"), ("array", "k"), ("float",)],
    "batchnorm_forward_eval": [("array", "nk"), *[("array", "k")] * 4, ("float",)],
    "batchnorm_backward": [("array", "nk"), ("array", "nk"), ("array", "k"), ("float",)],
    "batchnorm_update_running": [*[("array", "k")] * 4, ("count",), ("unit",)],
    "dropout_forward": [("array", "nk"), ("mask",), ("unit",)],
    "dropout_backward": [("array", "nk"), ("mask",), ("unit",)],
    "dropout_mask": [("count",), ("count",), ("unit",), ("count",), ("count",), ("count",), ("count",)],
    "sgd_update": [("array", "nk"), ("array", "nk"), ("float",)],
    "momentum_update": [("array", "nk"), ("array", "nk"), ("array", "nk"), ("float",), ("unit",)],
    "nesterov_update": [("array", "nk"), ("array", "nk"), ("array", "nk"), ("float",), ("unit",)],
    "adam_update": [*[("array", "nk")] * 4, ("count",), ("float",), ("unit",), ("unit",), ("float",)],
    "rmsprop_update": [*[("array", "nk")] * 3, ("float",), ("unit",), ("float",)],
    "activation_forward": [("name",), ("array", "nk")],
    "activation_backward": [("name",), ("array", "nk"), ("array", "nk")],
    "rng.splitmix64": [("words",)],
    "rng.hash_words": [("words",), ("words",), ("words?",)],
    "rng.epoch_permutation": [("count",), ("count",), ("count",)],
    "rng.mask": [("count",), ("count",), ("unit",), ("count",), ("count",), ("count",), ("count",)],
}
for _name in ("relu", "sigmoid", "tanh", "linear", "softmax", "leaky_relu"):
    OPS[f"{_name}_forward"] = [("array", "nk")] + ([("float?",)] if _name == "leaky_relu" else [])
    OPS[f"{_name}_backward"] = [("array", "nk"), ("array", "nk")] + ([("float?",)] if _name == "leaky_relu" else [])


def test_every_kernel_in_ops_is_fuzzed():
    public = {name for name in ops.__all__ if callable(getattr(ops, name)) and name not in ("rng", "LOSS_FUNCTIONS")}
    public |= {f"rng.{name}" for name in ("splitmix64", "hash_words", "epoch_permutation", "mask")}
    assert public == set(OPS)


def _kernel(name):
    if name.startswith("rng."):
        return getattr(ops.rng, name[4:])
    return getattr(ops, name)


@st.composite
def op_calls(draw):
    name = draw(st.sampled_from(sorted(OPS)))
    sizes = {key: draw(st.sampled_from([0, 1, 1, 2, 3, 5])) for key in "nkm"}
    args = []
    for spec in OPS[name]:
        kind = spec[0].rstrip("?")
        if spec[0].endswith("?") and draw(st.booleans()):
            continue
        if kind == "array":
            shape = tuple(sizes[key] for key in spec[1])
            args.append(draw(st.one_of(like(shape), like(shape, finite=True))))
        elif kind == "sparse":
            args.append(draw(sparse_like(tuple(sizes[key] for key in spec[1]))))
        elif kind == "weights":
            args.append(draw(st.one_of(st.none(), like((sizes["n"],)), like((sizes["n"],), finite=True))))
        elif kind == "labels":
            labels = arrays((sizes["n"],), ["int64", "int8", "uint8", "float64", "bool"], True)
            args.append(draw(st.one_of(labels, like((sizes["n"],)))))
        elif kind == "mask":
            shape = (sizes["n"], sizes["k"])
            args.append(draw(st.one_of(arrays(shape, ["bool", "int8", "float64"], True), like(shape))))
        elif kind == "float":
            args.append(draw(mostly(st.floats(0, 2), hyper)))
        elif kind == "unit":
            args.append(draw(unit))
        elif kind == "count":
            args.append(draw(mostly(st.integers(0, 6), counts)))
        elif kind == "name":
            args.append(draw(mostly(st.sampled_from(["relu", "tanh", "sigmoid", "linear", "softmax"]), names)))
        elif kind == "words":
            words = st.one_of(st.integers(0, 2**64 - 1), arrays((2,), ["uint64", "int64"], True))
            args.append(draw(mostly(words, counts)))
    return name, args


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(op_calls())
def test_ops_kernels(case):
    name, args = case
    copies = _snapshot(args)
    ok, result = attempt(f"ops.{name}", lambda: _kernel(name)(*args))
    _unchanged(args, copies)
    if ok:
        outputs = result if isinstance(result, tuple) else (result,)
        for output in outputs:
            assert isinstance(output, (np.ndarray, float, np.uint64)), type(output)
            if isinstance(output, np.ndarray) and output.dtype.kind == "f":
                assert output.dtype in (np.float32, np.float64)
                assert output.flags.c_contiguous


# ------------------------------------------------------------------------------------------ explicit cases


def test_float16_labels_do_not_warn():
    """check_labels compared a float16 label array with 2**32 - 1 in float16: NumPy's "overflow encountered in
    cast" RuntimeWarning (an error under -W error) instead of a result."""
    labels = np.array([0, 2, 1], dtype=np.float16)
    loss, grad = ops.softmax_cross_entropy(np.zeros((3, 3), np.float16), labels)
    assert loss == pytest.approx(math.log(3)) and grad.shape == (3, 3)
    model = fnet.Sequential([fnet.Dense(3)], input_dim=2, dtype="float64")
    assert model.evaluate(np.zeros((3, 2)), labels)["loss"] == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match=r"y holds label 60000"):
        model.fit(np.zeros((1, 2)), np.array([6e4], np.float16))


def test_a_growing_schedule_over_many_epochs_is_a_value_error_not_an_overflow():
    """StepDecay(factor=2) overflows a float after 1024 epochs: Python's float power raised OverflowError out of
    fit before any training; the schedule now returns inf and fit refuses it, naming the epoch."""
    assert StepDecay(factor=2.0)(5000, 0.1) == math.inf
    assert ExponentialDecay(gamma=0.5)(-5000, 1.0) == math.inf
    assert ExponentialDecay(gamma=0.5)(10**400, 1.0) == 0.0
    # a float32 lr0 is computed in float64: no float32 overflow warning, a Python float
    rate = StepDecay(factor=2.0)(128, np.float32(0.5))
    assert type(rate) is float and rate == 2.0**127
    model = fnet.Sequential([fnet.Dense(3)], input_dim=2, dtype="float64")
    before = model.get_weights()
    X, y = np.ones((4, 2)), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"schedule returned for epoch 1024 must be finite"):
        model.fit(X, y, epochs=2000, optimizer=SGD(lr=1e-3), schedule=StepDecay(factor=2.0))
    assert_weights_equal(model.get_weights(), before)


def test_huge_epochs_cut_short_by_early_stopping_start_at_once():
    """epochs=10**12 with early stopping: fit used to compute one learning rate per epoch before training (it
    never started, and filled memory); now only the first epochs' rates are checked up front."""
    model = fnet.Sequential([fnet.Dense(3)], input_dim=2, dtype="float64")
    X, y = np.ones((4, 2)), np.array([0, 1, 2, 0])
    started = time.perf_counter()
    stopper = fnet.EarlyStopping(monitor="loss", patience=2, min_delta=1e9)
    history = model.fit(X, y, epochs=10**12, schedule=InverseTimeDecay(0.1), early_stopping=stopper)
    assert time.perf_counter() - started < 10
    assert len(history.epoch) == 3
    assert history.history["lr"] == [0.01, 0.01 / 1.1, 0.01 / 1.2]
    # past the pre-checked epochs, a bad rate still raises a ValueError naming its epoch
    bad_late = lambda epoch, lr0: lr0 if epoch < 10_003 else math.nan  # noqa: E731
    with pytest.raises(ValueError, match=r"epoch 10003 must be finite"):
        model.fit(X, y, epochs=20_000, schedule=bad_late, optimizer=SGD(lr=1e-3))
