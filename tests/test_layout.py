"""The code's shape, as the restructure promised it: small files and functions a newcomer can read."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "videoinr"


def test_no_source_file_over_500_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


def test_no_private_function_over_7_parameters():
    wide = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_") \
                    and not node.name.startswith("__"):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
                if len(names) > 7:
                    wide.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({len(names)})")
    assert not wide, wide
