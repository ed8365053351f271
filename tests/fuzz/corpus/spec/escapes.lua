print("tab\tnl\nesc\27[2J caf\195\169 \194\155 \255")
local ok = pcall(error, "x\0y")
error(string.rep("\27[31m\n", 300) .. "\226\128\174", 0)
