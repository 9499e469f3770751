-- A slow-starting app: two seconds of "loading" before the part you edit.
-- Run it with `make example`, then edit example/scene.lua and save.
package.path = "./?.lua;" .. package.path

local started = os.clock()
print("loading assets (2 s of start-up work)...")
local checksum = 0
while os.clock() - started < 2 do
  checksum = (checksum * 31 + 7) % 1000003
end
print(string.format("loaded in %.1f s", os.clock() - started))

local scene = require "scene"
scene.show()
