from automl_cli.main import main

main()
