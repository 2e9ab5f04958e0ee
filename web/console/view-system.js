// view-system
