from decathlon.cli import main

raise SystemExit(main())
