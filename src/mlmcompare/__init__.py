"""mlmcompare: compare estimation methods for clustered data, reproducibly.

The package owns every computation of the pipeline: data validation
(`data`), school summaries and contextual variables (`contextual`), the
estimation methods (`methods`), the mixed-model engine (`lmm`), the tidy
output schemas (`tidy`), what the report draws (`ellipse`, `tables`,
`figures`) and how it is rendered (`render`).
"""

__version__ = "0.1.0"
