from benchmark.commands.cli import main

raise SystemExit(main())
