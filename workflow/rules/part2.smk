# Handout part2 sections: rules register their outputs in REPORT_PARTS (common.smk).
