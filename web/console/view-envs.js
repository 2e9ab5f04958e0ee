// view-envs
