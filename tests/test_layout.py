"""The integration's layout: small modules, each saying its job, importing only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "custom_components" / "enphase_enlighten"
PACKAGE_NAME = "custom_components.enphase_enlighten"

# Data flows one way: the API client -> the budget -> the coordinators -> the entities. A
# module may import modules of its own layer or of a layer above it in this list, never one
# below. A new module is added to the layer of what it does (see ARCHITECTURE.md); api/
# and budget/ are one layer each, whatever their modules.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Names, and every difference between Home Assistant versions.
    ("const", "compat"),
    # The Enphase client: transport, endpoint methods, models (no Home Assistant).
    ("api",),
    # The request planner: limits, counters, intervals, what is due (no Home Assistant).
    ("budget",),
    # An entry's helpers: tokens, options, messages, saved alarms and answers, devices,
    # repairs, budget.
    (
        "auth",
        "application_credentials",
        "lifetime",
        "options",
        "messages",
        "alarms",
        "held",
        "devices",
        "repairs",
        "entry_budget",
    ),
    # The coordinator base and one coordinator per kind of data.
    ("coordinator",),
    # Runs the coordinators when the planner says.
    ("scheduler",),
    # Builds and holds an entry's client, planner, scheduler and coordinators.
    ("runtime",),
    # The entity bases and device info.
    ("entity", "alarm_info"),
    # Platforms, service actions, diagnostics, the config flow.
    (
        "binary_sensor",
        "alarm_sensor",
        "sensor",
        "event",
        "device_trigger",
        "services",
        "services_history",
        "diagnostics",
        "flow_forms",
        "flow_account",
        "config_flow",
    ),
    # Set up and unload an entry.
    ("__init__",),
)
LAYER_OF = {name: index for index, layer in enumerate(LAYERS) for name in layer}
# Packages whose modules must not import Home Assistant (they run and test without it).
WITHOUT_HOME_ASSISTANT = ("api", "budget")
MAX_LINES = 600
MAX_INIT_LINES = 150

MODULES = sorted(PACKAGE.rglob("*.py"))


def _unit(path: Path) -> str:
    """Return the layer unit of a module: its package under the integration, or its name."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_units(path: Path, root: Path = PACKAGE) -> set[str]:
    """Return the integration units a module imports (TYPE_CHECKING imports included)."""
    package = list(path.relative_to(root).parent.parts)
    units: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                if target:
                    units.add(target[0])
                else:
                    # "from . import x": x is a module of the integration.
                    units.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(PACKAGE_NAME + "."):
                units.add(node.module.removeprefix(PACKAGE_NAME + ".").split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE_NAME + "."):
                    units.add(alias.name.removeprefix(PACKAGE_NAME + ".").split(".")[0])
    return units


def _imports_home_assistant(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name == "homeassistant" or name.startswith("homeassistant.") for name in names):
            return True
    return False


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_modules_found() -> None:
    """The checks below see the whole integration, its packages included."""
    units = {_unit(path) for path in MODULES}
    assert {"__init__", "api", "budget", "coordinator", "runtime", "entity"} <= units


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_is_small(path: Path) -> None:
    """No module is over 600 lines; a longer one holds more than one job."""
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_id(path)} has {lines} lines (at most {MAX_LINES})"


def test_init_sets_up_only() -> None:
    """__init__.py only sets up and unloads; building the entry's runtime is runtime.py's."""
    lines = len((PACKAGE / "__init__.py").read_text().splitlines())
    assert lines < MAX_INIT_LINES, f"__init__.py has {lines} lines (under {MAX_INIT_LINES})"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_says_its_job(path: Path) -> None:
    """Every module starts with a docstring whose first line says what it is for."""
    tree = ast.parse(path.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring, f"{_id(path)} has no module docstring"
    assert isinstance(tree.body[0], ast.Expr), f"{_id(path)} does not start with its docstring"
    assert docstring.splitlines()[0].strip(), f"{_id(path)}'s docstring starts with a blank line"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_module_has_a_layer(path: Path) -> None:
    """Every module belongs to a layer of LAYERS, so where it may import from is known."""
    assert _unit(path) in LAYER_OF, f"add {_unit(path)!r} to a layer of LAYERS"


@pytest.mark.parametrize("path", MODULES, ids=_id)
def test_imports_flow_one_way(path: Path) -> None:
    """A module imports only its own layer or the layers above it in LAYERS."""
    unit = _unit(path)
    upward = {
        imported
        for imported in _imported_units(path)
        if LAYER_OF.get(imported, len(LAYERS)) > LAYER_OF.get(unit, -1)
    }
    assert not upward, f"{_id(path)} ({unit}) imports a later layer: {sorted(upward)}"


@pytest.mark.parametrize(
    "path",
    [path for path in MODULES if _unit(path) in WITHOUT_HOME_ASSISTANT],
    ids=_id,
)
def test_no_home_assistant_in_client_or_budget(path: Path) -> None:
    """The API client and the request planner import nothing from Home Assistant."""
    assert not _imports_home_assistant(path), f"{_id(path)} imports homeassistant"


def test_checks_catch_bad_imports(tmp_path: Path) -> None:
    """The checks see relative, package-relative and absolute imports, and Home Assistant."""
    top = tmp_path / "probe.py"
    top.write_text(
        "from .runtime import EnphaseConfigEntry\n"
        "from . import sensor\n"
        f"from {PACKAGE_NAME}.entity import EnphaseEntity\n"
        "from homeassistant.core import HomeAssistant\n"
    )
    (tmp_path / "budget").mkdir()
    nested = tmp_path / "budget" / "probe.py"
    nested.write_text("from ..runtime import x\nfrom .planner import y\nimport math\n")
    assert _imported_units(top, tmp_path) == {"runtime", "sensor", "entity"}
    assert _imported_units(nested, tmp_path) == {"runtime", "budget"}
    assert _imports_home_assistant(top)
    assert not _imports_home_assistant(nested)
