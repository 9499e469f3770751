# The build leaves forkmon.so at target/release/forkmon.so (the name Lua's
# require and LD_PRELOAD users look for; cargo itself names it
# libforkmon.so).

CARGO ?= cargo
LIB := target/release/forkmon.so
# The other Luas the module is built for: cargo feature:interpreter.
OTHER_LUAS := lua53:lua5.3 lua52:lua5.2 lua51:lua5.1 luajit:luajit

# Those of them installed here: a Lua loads only a module built for it
# (lua5.1 with the 5.4 build fails in the loader: undefined symbol
# lua_rawlen). Each gets target/<feature>/release/forkmon.so.
FOUND_LUAS := $(foreach pair,$(OTHER_LUAS),$(if $(shell command -v $(lastword $(subst :, ,$(pair))) 2>/dev/null),$(pair)))

.PHONY: all modules check-modules test spec spec-matrix example clean FORCE

all: $(LIB) modules

$(LIB): FORCE
	$(CARGO) build --release
	cp target/release/libforkmon.so $(LIB)

# The module for every other Lua found here.
modules:
	@set -e; for pair in $(FOUND_LUAS); do \
	  feature=$${pair%%:*}; dir=target/$$feature/release; \
	  CARGO_TARGET_DIR=target/$$feature $(CARGO) build --release --no-default-features --features $$feature; \
	  cp $$dir/libforkmon.so $$dir/forkmon.so; \
	done

# Each Lua found here loads its own module by require.
check-modules: $(LIB) modules
	@set -e; for pair in lua54:lua5.4 $(FOUND_LUAS); do \
	  feature=$${pair%%:*}; interpreter=$${pair#*:}; \
	  case $$feature in lua54) dir=target/release;; *) dir=target/$$feature/release;; esac; \
	  LUA_CPATH="$(CURDIR)/$$dir/?.so" FORKMON_QUIET=1 $$interpreter -e \
	    'local f = require "forkmon"; assert(f.resumes() == 0); print("'$$interpreter' (" .. _VERSION .. ") loads '$$dir'/forkmon.so")'; \
	done

# Every test: the Rust tests (unit tests, the filter's differential and
# property tests, process tests running lua5.4 and C programs under the
# library) and the busted specs of the Lua module.
test:
	$(CARGO) test --lib --bins --tests
	$(MAKE) spec

# busted specs under one interpreter, with the module from one build dir.
# FORKMON_FILTER='^$' keeps busted's own files from being checkpointed.
define busted
	LUA_CPATH="$(CURDIR)/$(2)/?.so;;" FORKMON_SPEC_LUA=$(1) \
	FORKMON_SPEC_CPATH="$(CURDIR)/$(2)/?.so" FORKMON_FILTER='^$$' \
	busted --lua=$(1) spec
endef

spec: $(LIB)
	$(call busted,lua5.4,target/release)

# The module built for Lua 5.3, 5.2, 5.1 and LuaJIT, each in a target dir
# of its own, and the specs run under each interpreter.
spec-matrix: modules
	@set -e; for pair in $(FOUND_LUAS); do \
	  feature=$${pair%%:*}; interpreter=$${pair#*:}; dir=target/$$feature/release; \
	  echo "== $$interpreter ($$feature)"; \
	  $(call busted,$$interpreter,$$dir); \
	done

# The example of the README: edit example/scene.lua while it runs.
example: $(LIB)
	cd example && LD_PRELOAD=$(CURDIR)/$(LIB) FORKMON_FILTER='%.lua$$' lua5.4 main.lua

clean:
	$(CARGO) clean
