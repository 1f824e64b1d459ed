"""Every public function, class and method has a numpydoc docstring: a summary, a ``Parameters`` section naming
each parameter when it takes any, and a ``Returns`` section when it returns something.

The public API is enumerated with ``inspect``: for each module in ``PUBLIC_MODULES``, the names in its ``__all__``
(or, without one, every name not starting with an underscore that the module defines itself), and for each public
class its public methods and properties defined in ferronet (scikit-learn's inherited methods are its own
business), plus ``__call__``. A class documents its constructor's parameters in the class docstring (numpydoc's
convention, and what the API reference shows). New functions therefore cannot land undocumented.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import pydoc
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

#: The modules of the API reference (docs/reference/), in the order of its pages.
PUBLIC_MODULES = (
    "ferronet",
    "ferronet.model",
    "ferronet.layers",
    "ferronet.activations",
    "ferronet.losses",
    "ferronet.optim",
    "ferronet.schedules",
    "ferronet.callbacks",
    "ferronet.datasets",
    "ferronet.preprocessing",
    "ferronet.io",
    "ferronet.ops",
    "ferronet.diagnostics",
    "ferronet.utils",
    "ferronet.plot",
    "ferronet.sklearn",
    "ferronet.onnx",
    "ferronet.torch_interop",
    "ferronet.distributed",
)

#: Modules that need an optional dependency to import, and that dependency.
OPTIONAL = {"ferronet.torch_interop": "torch", "ferronet.distributed": "dask", "ferronet.sklearn": "sklearn"}

#: numpydoc section headers: the title, then a line of dashes as long as it.
SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-+$", re.MULTILINE)


def _module(name: str) -> ModuleType:
    dependency = OPTIONAL.get(name)
    if dependency is not None and importlib.util.find_spec(dependency) is None:
        pytest.skip(f"{name} needs the optional package {dependency}, which is not installed here")
    return importlib.import_module(name)


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return sorted(names)
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == module.__name__
    )


def _is_ferronet(owner: type) -> bool:
    return owner.__module__.split(".")[0] == "ferronet"


def _function(value: Any) -> Any:
    """The function behind a class attribute: a plain method, a static or class method, a property, or a method
    wrapped by scikit-learn's ``available_if``; None for anything else."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if inspect.isfunction(value) or isinstance(value, property):
        return value
    wrapped = getattr(value, "fn", None)  # sklearn.utils.metaestimators.available_if
    return wrapped if inspect.isfunction(wrapped) else None


def _members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties of ``cls`` that ferronet defines (on it or on a ferronet base)."""
    seen: set[str] = set()
    for owner in cls.__mro__:
        if not _is_ferronet(owner):
            continue
        for name, value in vars(owner).items():
            if name in seen or (name.startswith("_") and name != "__call__"):
                continue
            seen.add(name)
            function = _function(value)
            if function is not None:
                yield f"{owner.__module__}.{owner.__qualname__}.{name}", function


def public_api() -> Iterator[tuple[str, Any]]:
    """(qualified name, object) for every public function, class, method and property, each once under the name
    of the module and class that define it; modules and constants are not listed."""
    listed: set[int] = set()
    for module_name in PUBLIC_MODULES:
        dependency = OPTIONAL.get(module_name)
        if dependency is not None and importlib.util.find_spec(dependency) is None:
            continue
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            value = getattr(module, name)
            if not (inspect.isroutine(value) or inspect.isclass(value)) or id(value) in listed:
                continue
            listed.add(id(value))
            yield f"{value.__module__}.{value.__qualname__}", value
            if inspect.isclass(value):
                for member_name, member in _members(value):
                    if id(member) not in listed:
                        listed.add(id(member))
                        yield member_name, member


def _sections(doc: str) -> dict[str, str]:
    """numpydoc section title -> its body."""
    matches = list(SECTION.finditer(doc))
    return {
        match["title"]: doc[match.end() : matches[index + 1].start() if index + 1 < len(matches) else len(doc)]
        for index, match in enumerate(matches)
    }


def _documented_parameters(body: str) -> set[str]:
    """Names in a Parameters section: the unindented ``name : type`` (or ``x, y : type``) lines."""
    names: set[str] = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def _signature_target(name: str, value: Any) -> Callable[..., Any] | None:
    if isinstance(value, property):
        return None
    if inspect.isclass(value):
        init = value.__init__
        return init if _is_ferronet(getattr(init, "__objclass__", None) or _owner(value, "__init__")) else None
    return value  # type: ignore[no-any-return]


def _owner(cls: type, attribute: str) -> type:
    return next(owner for owner in cls.__mro__ if attribute in vars(owner))


def _parameters(target: Callable[..., Any]) -> list[str]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # pragma: no cover - every ferronet callable has a signature
        return []
    return [name for name in signature.parameters if name not in ("self", "cls")]


def _returns_something(name: str, value: Any) -> bool:
    if inspect.isclass(value) or isinstance(value, property):
        return False
    annotation = inspect.signature(value).return_annotation
    return annotation not in (None, "None", inspect.Signature.empty, "NoReturn")


API = sorted(public_api())


def test_help_shows_the_parameters_of_fit():
    from ferronet import Sequential

    text = pydoc.render_doc(Sequential.fit, renderer=pydoc.plaintext)
    assert "Parameters\n" in text
    for line in ("batch_size : int, default 32", "optimizer : Optimizer or", "callbacks : list of Callback"):
        assert line in text, line


def test_the_public_api_is_found():
    names = {name for name, _ in API}
    for expected in ("ferronet.io.load", "ferronet.model.Sequential.fit", "ferronet.schedules.StepDecay.__call__"):
        assert expected in names
    assert len(API) > 150


@pytest.mark.parametrize(("name", "value"), API, ids=[name for name, _ in API])
def test_public_callable_has_a_numpydoc_docstring(name: str, value: Any) -> None:
    doc = inspect.getdoc(value)
    assert doc and doc.strip(), f"{name} has no docstring"
    sections = _sections(doc)
    target = _signature_target(name, value)
    parameters = [] if target is None else _parameters(target)
    if parameters:
        assert "Parameters" in sections, f"{name} takes {parameters} but its docstring has no Parameters section"
        missing = [p for p in parameters if p not in _documented_parameters(sections["Parameters"])]
        assert not missing, f"{name}: the Parameters section does not describe {missing}"
    if _returns_something(name, value):
        assert "Returns" in sections or "Yields" in sections, f"{name} returns a value but has no Returns section"


#: Modules whose docstrings hold examples: the public ones and the submodules that define ``ferronet.datasets``.
DOCTEST_MODULES = (*PUBLIC_MODULES, "ferronet.datasets.digits", "ferronet.datasets.spiral", "ferronet.datasets.idx")


@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
def test_the_examples_in_the_docstrings_run(module_name: str) -> None:
    """The ``Examples`` sections are doctests: they run and print what they say (``# doctest: +SKIP`` marks the
    ones that need files or a network)."""
    module = _module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, module_name):
        if test.filename and not test.filename.startswith(str(Path(module.__file__ or "").parents[1])):
            continue  # a docstring imported from elsewhere (numpy, scikit-learn)
        runner.run(test, clear_globs=True)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} doctest examples of {module_name} failed"
