from cloudrun.cli import main

main()
