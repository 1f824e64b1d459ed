"""Names users type from habit: "did you mean" suggestions, keyword checks, and other libraries' names.

- :func:`suggestion` finds the closest known name to a mistyped one (``difflib``, case-insensitive).
- :func:`keywords` decorates a public function or constructor: an unknown keyword argument raises ``TypeError``
  naming the function and, when one is close, the name meant (``Sequential.fit() got an unexpected keyword
  argument 'epoch'; did you mean 'epochs'?``), or a hint for names other libraries use (``input_shape``); it also
  maps aliases from other libraries (Keras' ``learning_rate``, torch's ``betas``) to ferronet's names, and passing
  both an alias and the name it stands for is a ``TypeError``.
- :func:`instance_hint` is the message for a class given where an instance is expected (``optimizer=Adam``).

This module imports nothing from the package (``_validation`` uses it).
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

__all__ = ["instance_hint", "keywords", "suggestion"]

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")

#: How close a name must be to be suggested (difflib's ratio): "rleu" -> "relu", "epoch" -> "epochs".
CUTOFF = 0.6


#: Other libraries' names for ferronet's choices (Keras losses and initializers, scikit-learn activations), so
#: that the suggestion is the equivalent rather than the closest spelling ("crossentropy" is not "binary_...").
SYNONYMS = {
    "categorical_crossentropy": "softmax_cross_entropy",
    "sparse_categorical_crossentropy": "softmax_cross_entropy",
    "crossentropy": "softmax_cross_entropy",
    "cross_entropy": "softmax_cross_entropy",
    "log_loss": "softmax_cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "bce": "binary_cross_entropy",
    "mean_squared_error": "mse",
    "squared_error": "mse",
    "logistic": "sigmoid",
    "identity": "linear",
    "he_normal": "he",
    "kaiming_normal": "he",
    "glorot_normal": "xavier",
    "glorot_uniform": "xavier_uniform",
    "xavier_normal": "xavier",
    "lecun_normal": "lecun",
}


def suggestion(name: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'relu'?"`` for the known name closest to ``name``, or ``""`` when none is close."""
    if not isinstance(name, str):
        return ""
    options = list(choices)
    lowered = {option.lower(): option for option in options}
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    match = lowered.get(key) or lowered.get(SYNONYMS.get(key, ""))
    if match is None:
        close = difflib.get_close_matches(key, list(lowered), n=1, cutoff=CUTOFF)
        match = lowered[close[0]] if close else None
    return "" if match is None or match == name else f"; did you mean {match!r}?"


def instance_hint(value: object, base: type, what: str) -> str | None:
    """The message for a subclass of ``base`` passed where an instance is expected, else None.

    >>> instance_hint(ValueError, Exception, "error")
    'error is the class ValueError; pass an instance: ValueError()'
    """
    if not (isinstance(value, type) and issubclass(value, base)):
        return None
    try:
        parameters = list(inspect.signature(value).parameters.values())
    except (TypeError, ValueError):  # a class without a signature
        parameters = []
    required = any(
        p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )
    return f"{what} is the class {value.__name__}; pass an instance: {value.__name__}({'...' if required else ''})"


def _title(function: Callable[..., Any]) -> str:
    """How a message names the callable: ``Adam()`` for a constructor, ``Sequential.fit()`` for a method."""
    name = function.__qualname__
    return f"{name.removesuffix('.__init__')}()"


def _renamed(error: TypeError | ValueError, given_as: dict[str, str]) -> TypeError | ValueError:
    """``error`` naming the argument as the user spelled it: "learning_rate (lr) must be >= 0.0; got -1.0"."""
    message = str(error)
    for name, alias in given_as.items():
        if message.startswith(f"{name} ") and type(error) in (TypeError, ValueError):
            return type(error)(f"{alias} ({name}){message[len(name) :]}")
    return error


def keywords(
    *, aliases: Mapping[str, str | tuple[str, ...]] | None = None, hints: Mapping[str, str] | None = None
) -> Callable[[Callable[_Params, _Result]], Callable[_Params, _Result]]:
    """Check the keyword arguments of a public callable and map other libraries' names to ferronet's.

    ``aliases`` maps a keyword the callable declares (keyword-only, default None, so that type checkers and
    ``help`` know it) to the parameter it stands for, or to a tuple of parameters it unpacks into (torch's
    ``betas=(0.9, 0.999)`` -> ``beta1``, ``beta2``). An alias that is given, even as None, has its value moved to
    that parameter before the call, so the function body never sees it. ``hints`` maps a name the callable does
    not take to advice (``"input_shape"`` -> ``"pass input_dim=N to Sequential"``). The check costs a set lookup
    per keyword given.
    """
    alias_map = dict(aliases or {})
    hint_map = dict(hints or {})

    def decorate(function: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
        parameters = list(inspect.signature(function).parameters.values())
        named = frozenset(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
        positions = {
            p.name: index
            for index, p in enumerate(parameters)
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
        public = sorted(name for name in named if not name.startswith("_") and name not in alias_map)
        missing = [alias for alias in alias_map if alias not in named]
        if missing:
            raise AssertionError(f"{function.__qualname__} must declare its aliases {missing} as keyword-only")
        call = cast(Callable[..., _Result], function)

        def unknown(key: str) -> TypeError:
            advice = hint_map.get(key)
            extra = f"; {advice}" if advice else suggestion(key, public)
            return TypeError(f"{_title(function)} got an unexpected keyword argument {key!r}{extra}")

        def resolve(args: tuple[Any, ...], kwargs: dict[str, Any], given_as: dict[str, str]) -> dict[str, Any]:
            """Move each alias's value to its parameter; ``given_as`` records parameter -> alias."""
            for alias, target in alias_map.items():
                if alias not in kwargs:
                    continue
                value = kwargs.pop(alias)
                targets = (target,) if isinstance(target, str) else target
                for name in targets:
                    if name in kwargs or positions.get(name, len(args)) < len(args):
                        raise TypeError(
                            f"{_title(function)} got both {given_as.get(name, name)!r} and {alias!r}, which stands "
                            f"for {name!r}; pass one of them"
                        )
                if isinstance(target, str):
                    kwargs[target] = value
                else:
                    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                        raise TypeError(
                            f"{alias} must be a tuple ({', '.join(target)}); got {type(value).__name__} {value!r}"
                        )
                    values = tuple(value)
                    if len(values) != len(target):
                        raise ValueError(
                            f"{alias} must hold {len(target)} values ({', '.join(target)}); got {len(values)}"
                        )
                    kwargs.update(zip(target, values, strict=True))
                given_as.update(dict.fromkeys(targets, alias))
            return kwargs

        def checked(*args: Any, **kwargs: Any) -> _Result:
            if kwargs:
                if not takes_any:
                    for key in kwargs:
                        if key not in named:
                            raise unknown(key)
                if alias_map and not alias_map.keys().isdisjoint(kwargs):
                    given_as: dict[str, str] = {}
                    kwargs = resolve(args, kwargs, given_as)
                    try:
                        return call(*args, **kwargs)
                    except (TypeError, ValueError) as error:
                        raise _renamed(error, given_as) from None
            return call(*args, **kwargs)

        functools.update_wrapper(checked, function)  # inspect.signature and help() show the function's signature
        return cast(Callable[_Params, _Result], checked)

    return decorate


# ---- other libraries' arguments of Sequential's methods, and what to do instead ---------------------------------

_LR = "the learning rate is the optimizer's: fit(..., optimizer=fnet.optim.SGD(lr=...))"

SEQUENTIAL_HINTS = {
    "optimizer": "the optimizer is given to fit: model.fit(X, y, optimizer=fnet.optim.Adam())",
    "input_shape": "ferronet's name is input_dim (the number of features)",
    "metrics": "fit reports the loss and, for classifiers, the accuracy",
    "random_state": "ferronet's name is seed",
}

FIT_HINTS = {
    "lr": _LR,
    "learning_rate": _LR,
    "validation_fraction": "ferronet's name is validation_split",
    "metrics": "fit reports the loss and, for classifiers, the accuracy",
    "class_weight": "pass per-row weights, e.g. sample_weight=sklearn.utils.class_weight.compute_sample_weight("
    "'balanced', y)",
    "seed": "the seed is the model's: Sequential(..., seed=...)",
    "random_state": "the seed is the model's: Sequential(..., seed=...)",
}

PREDICT_HINTS = {
    "batch_size": "inference runs in blocks of rows by itself; there is nothing to set",
    "verbose": "inference prints nothing; there is nothing to set",
}
