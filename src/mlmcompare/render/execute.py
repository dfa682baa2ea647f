"""Running a .qmd's chunks: one notebook cell per chunk, executed by nbclient
in a kernel of this very Python, parameters injected as Quarto's ``-P`` does."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from typing import Any

from .qmd import Chunk, ChunkError, Qmd, RenderError, shown_path

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CELL_FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")


def build_notebook(doc: Qmd, params: Mapping[str, object] | None = None) -> Any:
    """A notebook of the chunks to run: a hidden setup cell, then one cell per
    evaluated chunk (``metadata.block`` is its index in ``doc.blocks``). The
    parameters go in a cell right after the chunk tagged ``parameters`` (or
    first), as papermill places them for Quarto."""
    import nbformat.v4 as nbf

    cells = [nbf.new_code_cell(setup_source(doc.format_options()))]
    injected = nbf.new_code_cell(params_source(params or {}), metadata={"tags": ["injected-parameters"]})
    for index, chunk in enumerate(doc.blocks):
        if isinstance(chunk, str) or not doc.execute_options(chunk)["eval"]:
            continue
        tags = chunk.options.get("tags") or []
        tags = [str(t) for t in ([tags] if isinstance(tags, str) else tags)]
        tags += ["raises-exception"] if doc.execute_options(chunk)["error"] else []  # nbclient goes on
        cells.append(nbf.new_code_cell(chunk.code, metadata={"block": index, "tags": tags}))
        if "parameters" in tags and params:
            cells.append(injected)
            params = None
    if params:
        cells.insert(1, injected)
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def params_source(params: Mapping[str, object]) -> str:
    if bad := [key for key in params if not str(key).isidentifier()]:
        raise RenderError(f"parameter names {bad} are not Python identifiers")
    return "\n".join(["# Injected parameters", *(f"{k} = {v!r}" for k, v in params.items())])


def setup_source(options: Mapping[str, Any]) -> str:
    """The hidden first cell: inline matplotlib (retina PNG) with the header's figure size."""
    size = (float(options.get("fig-width", 7)), float(options.get("fig-height", 5)))
    dpi = float(options.get("fig-dpi", 96))
    return ("try:\n    import matplotlib as _mpl\n"
            "    get_ipython().run_line_magic('matplotlib', 'inline')\n"
            "    from matplotlib_inline.backend_inline import set_matplotlib_formats\n"
            "    set_matplotlib_formats('retina')\n"
            f"    _mpl.rcParams.update({{'figure.figsize': {size}, 'figure.dpi': {dpi}}})\n"
            "    del _mpl, set_matplotlib_formats\nexcept ImportError:\n    pass\n")


def execute_notebook(doc: Qmd, notebook: Any, timeout: int = 600) -> Any:
    """The notebook executed cell by cell in the .qmd's folder; ChunkError at the first failure."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(notebook, km=this_python_kernel_manager(), timeout=timeout,
                            startup_timeout=120, record_timing=False,
                            resources={"metadata": {"path": str(doc.path.parent)}})
    env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    # the kernel process's own output goes to `log`, shown if the kernel dies
    with tempfile.TemporaryFile() as log, client.setup_kernel(env=env, stdout=log, stderr=log):
        for index, cell in enumerate(notebook.cells):
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-3000:] if isinstance(err, DeadKernelError) else ""
                raise chunk_failure(doc, cell, err, tail) from None
    return notebook


def this_python_kernel_manager() -> Any:
    """A kernel manager that starts ipykernel on ``sys.executable`` (not whichever
    ``python3`` kernelspec is installed first)."""
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisPython(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


def chunk_failure(doc: Qmd, cell: Any, err: Exception, kernel_log: str) -> ChunkError:
    """The error of ``cell`` told at its chunk: label, file:line of the chunk
    and of the failing line, the Python error, and the traceback."""
    if "block" not in cell.metadata:
        return ChunkError(f"the setup or parameters cell failed:\n{err}", "", "")
    chunk = doc.blocks[cell.metadata["block"]]
    assert isinstance(chunk, Chunk)
    error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
    traceback = ANSI_ESCAPE.sub("", "\n".join(error["traceback"])) if error else str(err)
    summary = f"{error['ename']}: {error['evalue']}" if error else type(err).__name__
    name = f"chunk '{chunk.label}'" if chunk.label else "unlabelled chunk"
    message = f"{name} at {chunk.where} failed: {summary}"
    lines, frame = chunk.code.splitlines(), CELL_FRAME.search(traceback)
    if frame and int(frame[1]) <= len(lines):  # the failing line of the chunk itself
        k = int(frame[1]) - 1
        message += f"\n  at {shown_path(chunk.file)}:{chunk.code_line + k}: {lines[k].strip()}"
    message += f"\n\n{traceback}" + (f"\n\nkernel log:\n{kernel_log}" if kernel_log else "")
    return ChunkError(message, chunk.label, chunk.where)
