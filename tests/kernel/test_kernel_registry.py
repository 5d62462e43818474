"""The one name -> object table (cxr_kernel.registry.Registry) and the tables built on it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cxr_kernel.errors import UserError
from cxr_kernel.registry import Registry


def test_a_decorated_definition_is_registered_and_returned_unchanged():
    table = Registry("widget")

    @table.register("double", info={"cost": 1})
    def double(x):
        return 2 * x

    assert double(2) == 4
    assert table.get("double") is double
    assert table.info("double") == {"cost": 1}
    assert "double" in table and len(table) == 1


def test_a_name_taken_is_refused_whatever_the_form():
    table = Registry("widget", {"json": "json:dumps"})
    with pytest.raises(ValueError, match="widget 'json' is defined twice: json:dumps and json:loads"):
        table.register("json", "json:loads")
    with pytest.raises(ValueError, match="defined twice"):

        @table.register("json")
        def dumps(value):
            return value

    assert table.get("json").__name__ == "dumps" and table.get("json").__module__ == "json"


def _fresh_python(*lines: str) -> str:
    """stdout of ``lines`` run in a new interpreter (nothing imported yet)."""
    code = "\n".join(lines)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_a_lazy_entry_is_imported_only_when_got():
    out = _fresh_python(
        "import sys",
        "from cxr_kernel.registry import Registry",
        "table = Registry('format', {'wave': 'wave:open'})",
        "assert table.names() == ['wave'] and 'wave' in table and table.info('wave') is None",
        "table.check('wave')",
        "print('wave' in sys.modules, end=' ')",
        "table.get('wave')",
        "print('wave' in sys.modules)",
    )
    assert out == "False True\n"


def test_an_unknown_name_suggests_the_closest_and_lists_all():
    table = Registry("colour", {"red": "builtins:str", "green": "builtins:str", "blue": "builtins:str"})
    with pytest.raises(
        UserError, match=r"Unknown colour 'gren'\. Did you mean 'green'\? Available: blue, green, red\."
    ):
        table.get("gren")
    with pytest.raises(ValueError, match=r"Unknown colour 'purple'\. Available: blue, green, red\.$"):
        table.check("purple")  # nothing close: no suggestion; a UserValueError, so also a ValueError


def test_names_sort_and_iteration_keeps_registration_order():
    table = Registry("step", {"second": "builtins:str"})
    table.register("first", len)
    assert table.names() == ["first", "second"]
    assert list(table) == ["second", "first"]
    assert table.items() == [("second", str), ("first", len)]


def test_naming_a_model_or_a_torch_classifier_imports_no_framework():
    out = _fresh_python(
        "import sys",
        "from sr_models import MODELS, learned_models",
        "from classifiers.backends import BACKENDS",
        "from sr_models.presets import DISCRIMINATORS, PRESETS",
        "MODELS.check('esrgan'); learned_models(); PRESETS.get('tiny-esrgan'); DISCRIMINATORS.check('unet')",
        "BACKENDS.get('torch').arch_names()",
        "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'onnxruntime') if m in sys.modules))",
    )
    assert out == "[]\n"


def test_each_classifier_backend_is_listed_under_its_own_type():
    from classifiers.backends import BACKENDS

    assert all(cls.type == name for name, cls in BACKENDS.items())
