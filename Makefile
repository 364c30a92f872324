# Two entry points for a fresh machine (see README):
#   make example   set up .venv and build the built-in example, then simulate and C-simulate it
#   make test      set up .venv and run the whole test suite
PY := .venv/bin/python
EDGEC := .venv/bin/edgec
OUT ?= out/example

.PHONY: setup example test clean

.venv/.stamp: pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

setup: .venv/.stamp

example: setup
	rm -rf $(OUT)
	$(EDGEC) build --board zynq7020 -o $(OUT)
	$(PY) -c "import edgec.examples.digits as d, numpy as np; x, y = d.test_split(); np.save('$(OUT)/../digits_x.npy', x); np.save('$(OUT)/../digits_y.npy', y)"
	$(EDGEC) sim $(OUT) --inputs $(OUT)/../digits_x.npy --labels $(OUT)/../digits_y.npy --out $(OUT)/../digits_sim.npz
	$(EDGEC) csim $(OUT)

test: setup
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf .venv out build dist
