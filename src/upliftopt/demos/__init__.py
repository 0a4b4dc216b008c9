"""Ready-made jobs behind the command line and the examples."""
