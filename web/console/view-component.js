// view-component
