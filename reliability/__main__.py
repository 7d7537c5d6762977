from reliability.cli import main

main()
