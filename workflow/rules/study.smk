# Monte Carlo study of the methods (issue 10): rules register outputs in REPORT_PARTS.
