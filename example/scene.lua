-- Edit this file while the example runs: the change shows at once, without
-- the two seconds of loading in main.lua.
local scene = {}

function scene.show()
  print("Hello from scene.lua! Resume #" .. (os.getenv("FORKMON_RESTART_TICKS") or "0"))
end

return scene
