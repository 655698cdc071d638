"""Course authoring: student stubs, self-check values, new exercises, releases, notebook runs, validation."""
