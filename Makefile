# The build leaves forkmon.so at target/release/forkmon.so (the name Lua's
# require and LD_PRELOAD users look for; cargo itself names it
# libforkmon.so).

CARGO ?= cargo
LIB := target/release/forkmon.so

.PHONY: all test example clean

all: $(LIB)

$(LIB): FORCE
	$(CARGO) build --release
	cp target/release/libforkmon.so $(LIB)

FORCE:

# Every test: unit tests, the filter's differential and property tests, and
# the process tests that run lua5.4 and C programs under the library.
test:
	$(CARGO) test

# The example of the README: edit example/counter.lua while it runs.
example: $(LIB)
	cd example && LD_PRELOAD=$(CURDIR)/$(LIB) FORKMON_FILTER='%.lua$$' lua5.4 main.lua

clean:
	$(CARGO) clean
