"""The ``mmvae`` command line: one module per subcommand, dispatched by :mod:`mmvae.cli.main`."""
