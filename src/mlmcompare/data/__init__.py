"""The data: loading with named checks (`load`), and the school summaries and
contextual variables derived from them (`contextual`)."""

from .contextual import add_contextual, school_summary
from .load import DataError, LoadedData, load_data

__all__ = ["DataError", "LoadedData", "add_contextual", "load_data", "school_summary"]
