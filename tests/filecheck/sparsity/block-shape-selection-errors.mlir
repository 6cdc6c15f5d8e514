// Bad options of the sparsity passes give one `error:` line naming the option and the value
// (`X-NOT: {{.}}`: nothing else is printed, no traceback). Malformed values are caught when
// the pipeline is built ("pass 'X': ..."), a bad cost model file when the pass runs ("failed").
// RUN: not sparsec opt %s -p "block-shape-selection{force=3y1}" 2>&1 | filecheck %s --check-prefix=FORCE
// RUN: not sparsec opt %s -p "block-shape-selection{layers=nonsense}" 2>&1 | filecheck %s --check-prefix=LAYERS
// RUN: not sparsec opt %s -p "block-shape-selection{layers=*=4z4}" 2>&1 | filecheck %s --check-prefix=CHOICE
// RUN: not sparsec opt %s -p "block-shape-selection{dense-above=abc}" 2>&1 | filecheck %s --check-prefix=NUMBER
// RUN: rm -f %t && not sparsec opt %s -p "block-shape-selection{cost-model=%t}" 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: echo nope > %t && not sparsec opt %s -p "block-shape-selection{cost-model=%t}" 2>&1 \
// RUN:   | filecheck %s --check-prefix=NOTJSON
// RUN: not sparsec opt %s -p "sparsity-analysis{block-shapes=32x1,0x1}" 2>&1 | filecheck %s --check-prefix=SHAPE
// RUN: not sparsec opt %s -p "block-shape-selection{block-shapes=2x}" 2>&1 | filecheck %s --check-prefix=SHAPE2

// FORCE: error: pass 'block-shape-selection': force: '3y1' is neither a block shape RxC nor 'dense'
// FORCE-NOT: {{.}}
// LAYERS: error: pass 'block-shape-selection': layers entry 'nonsense' is not GLOB=RxC or GLOB=dense
// LAYERS-NOT: {{.}}
// CHOICE: error: pass 'block-shape-selection': layers entry '*=4z4': '4z4' is neither a block shape RxC nor 'dense'
// CHOICE-NOT: {{.}}
// NUMBER: error: bad value 'abc' for option 'dense-above' of pass 'block-shape-selection': expected a number
// NUMBER-NOT: {{.}}
// MISSING: error: pass 'block-shape-selection' failed: cost model file '{{.*}}' does not exist
// MISSING-NOT: {{.}}
// NOTJSON: error: pass 'block-shape-selection' failed: {{.*}}: not a sparsec cost model (Expecting value: line 1 column 1 (char 0))
// NOTJSON-NOT: {{.}}
// SHAPE: error: pass 'sparsity-analysis': block shape '0x1' is not of the form RxC with R, C >= 1
// SHAPE-NOT: {{.}}
// SHAPE2: error: pass 'block-shape-selection': block shape '2x' is not of the form RxC with R, C >= 1
// SHAPE2-NOT: {{.}}
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "forward"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  "func.return"(%1) : (tensor<2x4xf32>) -> ()
}) : () -> ()
