# The second handout, designs and variance components (issue 8): appends its targets to EXTRA_TARGETS.
