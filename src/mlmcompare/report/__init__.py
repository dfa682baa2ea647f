"""Everything the handouts show, computed from the pipeline's outputs: tidy
schemas and atomic writes (`tidy`), provenance manifests (`provenance`),
number formats (`format`), the methods' comparison (`comparison`), display
tables of the analyses (`tables`) and of the study (`study`), figures
(`figures/`), the explorable page (`explore`) and the Pages index
(`pages_index`). Kept free of imports: the Pages index runs with the
standard library alone.
"""
