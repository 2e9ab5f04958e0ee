// view-projects
