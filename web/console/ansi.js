// ansi
