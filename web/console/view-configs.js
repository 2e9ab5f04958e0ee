// view-configs
