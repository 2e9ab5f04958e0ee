// view-auth
