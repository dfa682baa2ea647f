# Handout part1 sections: rules register their outputs in REPORT_PARTS (common.smk).
