// view-build
