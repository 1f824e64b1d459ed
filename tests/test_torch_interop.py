"""Sequential.to_torch / Sequential.from_torch (ferronet.torch_interop) copy weights bit for bit and compute the same function; modules
with no ferronet counterpart are refused clearly. Runs where PyTorch is installed (it is not a dependency)."""

from __future__ import annotations

import ferronet as fnet
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not a ferronet dependency (nor in CI): install torch to run the interop tests"
)
from ferronet.torch_interop import to_torch  # noqa: E402  (needs torch, imported above)

from_torch = fnet.Sequential.from_torch

ARCHITECTURES = {
    "dense": lambda: [
        fnet.Dense(9, activation="relu"),
        fnet.Dense(8, activation="leaky_relu"),
        fnet.Dense(7, activation="sigmoid"),
        fnet.Dense(6, activation="tanh"),
        fnet.Dense(3, activation="softmax"),
    ],
    "batchnorm-dropout": lambda: [
        fnet.Dense(10),
        fnet.BatchNorm(momentum=0.8, eps=1e-3),
        fnet.Activation("relu"),
        fnet.Dropout(0.3),
        fnet.Dense(8, activation="tanh"),
        fnet.BatchNorm(),
        fnet.Dense(3),
    ],
    "activation-layers": lambda: [
        fnet.Dense(8),
        fnet.BatchNorm(),
        fnet.Activation("leaky_relu"),
        fnet.Dropout(0.1),
        fnet.Activation("sigmoid"),
        fnet.Dense(3),
        fnet.Activation("softmax"),
    ],
}


def data(n: int = 96, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 2.0 + 0.5
    return X, (X @ rng.normal(size=(d, 3))).argmax(axis=1)


def trained(architecture: str, dtype: str) -> tuple[fnet.Sequential, np.ndarray]:
    X, y = data()
    model = fnet.Sequential(ARCHITECTURES[architecture](), input_dim=X.shape[1], dtype=dtype, seed=3)
    model.fit(X, y, epochs=3, batch_size=16, optimizer=fnet.optim.Adam(lr=0.01))  # running stats move too
    return model, X.astype(dtype)


def torch_output(module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def parameters(weights: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The non-empty entries of get_weights(): Dense and BatchNorm layers, in order."""
    return [layer for layer in weights if layer]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_to_torch_computes_forward_and_the_round_trip_is_exact(architecture, dtype):
    model, X = trained(architecture, dtype)
    module = to_torch(model)
    assert not module.training
    assert all(p.dtype == getattr(torch, dtype) for p in module.parameters())
    tolerance = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(torch_output(module, X), model.forward(X), rtol=tolerance, atol=tolerance)

    back = from_torch(module, loss=model.loss)  # a logits head does not tell its loss
    assert back.dtype == dtype and back.loss == model.loss and back.input_dim == model.input_dim
    for ours, theirs in zip(parameters(model.get_weights()), parameters(back.get_weights()), strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])  # bit-equal
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), rtol=tolerance, atol=tolerance)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_the_modules_and_their_settings():
    model, _ = trained("batchnorm-dropout", "float64")
    module = to_torch(model)
    kinds = [type(child).__name__ for child in module]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "Tanh", "BatchNorm1d", "Linear"]
    first_bn, second_bn = module[1], module[6]
    assert first_bn.momentum == pytest.approx(0.2) and first_bn.eps == 1e-3
    assert second_bn.momentum == pytest.approx(0.1) and second_bn.eps == 1e-5
    assert module[3].p == 0.3
    weights = model.get_weights()
    np.testing.assert_array_equal(module[0].weight.detach().numpy(), weights[0]["W"].T)
    np.testing.assert_array_equal(first_bn.running_var.numpy(), weights[1]["running_var"])
    # the configuration survives the round trip (BatchNorm's keep factor 1 - (1 - m) included)
    assert from_torch(module, loss="softmax_cross_entropy", seed=model.seed).config() == model.config()


def test_batchnorm_momentum_means_the_same_update_in_training():
    X, y = data()
    model = fnet.Sequential(
        [fnet.Dense(6), fnet.BatchNorm(momentum=0.7), fnet.Activation("tanh"), fnet.Dense(3)],
        input_dim=X.shape[1],
        dtype="float64",
    )
    module = to_torch(model).train()
    with torch.no_grad():
        module(torch.from_numpy(X))  # one training-mode pass updates torch's running statistics
    model.train_step(X, y)  # and ferronet's, from the same weights
    stats = model.get_weights()[1]
    np.testing.assert_allclose(module[1].running_mean.numpy(), stats["running_mean"], rtol=1e-12)
    np.testing.assert_allclose(module[1].running_var.numpy(), stats["running_var"], rtol=1e-12)


def build_torch(dtype=torch.float64):
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(5, 12),
        torch.nn.LeakyReLU(0.01),
        torch.nn.BatchNorm1d(12, momentum=0.3, eps=1e-4),
        torch.nn.Dropout(0.25),
        torch.nn.Sequential(torch.nn.Linear(12, 7), torch.nn.Tanh()),  # nested: flattened
        torch.nn.Linear(7, 4, bias=False),
        torch.nn.Identity(),
        torch.nn.Softmax(dim=1),
    ).to(dtype)
    with torch.no_grad():  # training-mode passes give the BatchNorm running statistics real values
        for _ in range(3):
            module(torch.randn(32, 5, dtype=dtype) * 2 + 1)
    return module.eval()


def test_from_torch_keeps_a_torch_networks_weights_and_outputs():
    module = build_torch()
    model = from_torch(module)
    assert [layer.kind for layer in model.layers] == ["dense", "batchnorm", "dropout", "dense", "dense"]
    assert [getattr(layer, "activation", None) for layer in model.layers] == [
        "leaky_relu",
        None,
        None,
        "tanh",
        "softmax",
    ]
    assert model.loss == "softmax_cross_entropy" and model.dtype == "float64" and model.input_dim == 5
    assert model.layers[1].momentum == pytest.approx(0.7) and model.layers[1].eps == 1e-4
    weights = model.get_weights()
    np.testing.assert_array_equal(weights[0]["W"], module[0].weight.detach().numpy().T)
    np.testing.assert_array_equal(weights[1]["running_mean"], module[2].running_mean.numpy())
    np.testing.assert_array_equal(weights[4]["b"], np.zeros(4))  # Linear(bias=False)
    X = np.random.default_rng(1).normal(size=(40, 5)) * 2 + 1
    np.testing.assert_allclose(model.forward(X), torch_output(module, X), rtol=1e-12, atol=1e-12)
    # and it trains on from there
    history = model.fit(X, np.arange(40) % 4, epochs=1, batch_size=8)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize(
    ("last", "loss"),
    [(torch.nn.Sigmoid(), "binary_cross_entropy"), (torch.nn.Identity(), "mse"), (None, "mse")],
    ids=["sigmoid", "identity", "none"],
)
def test_the_loss_follows_the_last_activation(last, loss):
    modules = [torch.nn.Linear(3, 2)] + ([last] if last is not None else [])
    assert from_torch(torch.nn.Sequential(*modules)).loss == loss


def test_options_loss_input_dim_dtype_and_seed():
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    with pytest.raises(ValueError, match=r"cannot infer the loss from a last activation 'tanh'; pass loss="):
        from_torch(module)
    model = from_torch(module, loss="hinge", input_dim=4, dtype="float64", seed=11)
    assert (model.loss, model.input_dim, model.dtype, model.seed) == ("hinge", 4, "float64", 11)
    np.testing.assert_array_equal(model.get_weights()[0]["W"], module[0].weight.detach().double().numpy().T)
    half = torch.nn.Sequential(torch.nn.Linear(4, 3)).half()
    with pytest.raises(ValueError, match=r"pass dtype='float32' or dtype='float64'"):
        from_torch(half)
    assert from_torch(half, dtype="float32").dtype == "float32"


class Doubling(torch.nn.Sequential):
    def forward(self, x):
        return 2 * super().forward(x)


@pytest.mark.parametrize(
    ("module", "error", "message"),
    [
        (torch.nn.Linear(3, 2), TypeError, r"module must be a torch.nn.Sequential; got Linear"),
        (Doubling(torch.nn.Linear(3, 2)), TypeError, r"module must be a torch.nn.Sequential; got Doubling"),
        (torch.nn.Sequential(torch.nn.ReLU()), ValueError, r"must contain a torch.nn.Linear"),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.GELU()),
            ValueError,
            r"module\[1\] \(GELU\) is not supported: from_torch accepts Linear",
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sequential(torch.nn.Identity(), torch.nn.SiLU())),
            ValueError,
            r"module\[1\]\[1\] \(SiLU\) is not supported",  # named by its path in the nesting
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LeakyReLU(0.2)),
            ValueError,
            r"module\[1\] \(LeakyReLU\): ferronet's leaky_relu has negative_slope 0.01; got 0.2",
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softmax(dim=1), torch.nn.Linear(4, 2)),
            ValueError,
            r"Softmax is supported only as the last module",
        ),
        (torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softmax(dim=0)), ValueError, r"got dim=0"),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, track_running_stats=False)),
            ValueError,
            r"must track running statistics",
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, momentum=None)),
            ValueError,
            r"momentum must be in \(0, 1\)",
        ),
        (
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(5, 2)),
            ValueError,
            r"module\[1\] \(Linear\) takes 5 features, but its input has 4",
        ),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, str) else None,
)
def test_unsupported_modules_are_refused_clearly(module, error, message):
    with pytest.raises(error, match=message):
        from_torch(module)


def test_bad_arguments_are_refused():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"module\[0\] \(Linear\) takes 3 features, but its input has 4"):
        from_torch(module, input_dim=4)
    with pytest.raises(ValueError, match=r"loss must be one of"):
        from_torch(module, loss="cross_entropy")
    with pytest.raises(TypeError, match=r"input_dim must be an integer"):
        from_torch(module, input_dim="3")
    with pytest.raises(TypeError, match=r"model must be a ferronet.Sequential"):
        to_torch(module)
    with pytest.raises(ValueError, match=r"model is not built"):
        to_torch(fnet.Sequential([fnet.Dense(2)]))


def test_the_methods_are_the_functions():
    model = fnet.Sequential([fnet.Dense(5, activation="tanh"), fnet.Dense(2)], input_dim=3, dtype="float64")
    module = model.to_torch()
    X = np.random.default_rng(0).normal(size=(4, 3))
    with torch.no_grad():
        first, second = module(torch.from_numpy(X)).numpy(), to_torch(model)(torch.from_numpy(X)).numpy()
    np.testing.assert_array_equal(first, second)
    assert (
        fnet.Sequential.from_torch(module, loss="mse").get_weights()[0]["W"].tolist()
        == model.get_weights()[0]["W"].tolist()
    )
