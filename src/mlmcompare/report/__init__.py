"""Report products built from the pipeline outputs: the explorable page and the Pages index."""
