"""The second handout, designs and variance components (issue 8).

Every computation of ``reports/designs.qmd`` lives here, one module per topic:

- :mod:`.oneway`      balanced one-way random effects fitted from published
                      group means, sizes and a pooled within-group SD
- :mod:`.rmanova`     one-way repeated-measures ANOVA: both classical tables,
                      the multivariate (type III) table, expected mean squares,
                      the mixed-model LRT and Hotelling's T^2
- :mod:`.sphericity`  Mauchly's test, Greenhouse-Geisser and Huynh-Feldt epsilon
- :mod:`.gls`         generalized least squares with six covariance structures
                      for the repeated measures (ML and REML)
- :mod:`.multcomp`    multiple comparisons of the conditions
- :mod:`.components`  covariance components of random slopes (hsfull)
- :mod:`.figures`     the handout's figures
- :mod:`.manifest`    the provenance record of the designs handout
- :mod:`.paths`       which tables each pipeline step writes (for designs.smk)

Tables use broom's column names (term, estimate, std_error, df, statistic,
p_value, conf_low, conf_high) and glance-like names for model summaries.
"""
