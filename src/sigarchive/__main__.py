from sigarchive.cli import main

main()
