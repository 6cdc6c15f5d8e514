// RUN: sparsec opt %s -p fusion --split-input-file | filecheck %s
// RUN: sparsec opt %s -p fusion,fusion --split-input-file | filecheck %s

// linear -> exact gelu -> add of a same-type residual: one linear with both epilogue stages.
// CHECK-LABEL: sym_name = "gelu_residual"
// CHECK: %[[Y:.*]] = "sparsec.linear"(%arg0, %{{.*}}, %{{.*}}, %arg1) <{epilogue = ["gelu", "residual"]}>
// CHECK-SAME: (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NOT: sparsec.gelu
// CHECK-NOT: sparsec.add
// CHECK: "func.return"(%[[Y]])
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "gelu_residual"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%arg1, %g) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// A gelu alone.
// CHECK-LABEL: sym_name = "gelu_only"
// CHECK: %[[Y:.*]] = "sparsec.linear"(%arg0, %{{.*}}, %{{.*}}) <{epilogue = ["gelu"]}>
// CHECK-NOT: sparsec.gelu
// CHECK: "func.return"(%[[Y]])
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "gelu_only"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%g) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// A residual alone (the add's operands in either order).
// CHECK-LABEL: sym_name = "residual_only"
// CHECK: %[[Y:.*]] = "sparsec.linear"(%arg0, %{{.*}}, %{{.*}}, %arg1) <{epilogue = ["residual"]}>
// CHECK-NOT: sparsec.add
// CHECK: "func.return"(%[[Y]])
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "residual_only"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%y, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// A bsr_linear fuses the same way; its analysis attributes stay.
// CHECK-LABEL: sym_name = "bsr"
// CHECK: "sparsec.bsr_linear"(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %arg1) <{block_shape = array<i64: 2, 2>, dense_shape = array<i64: 4, 4>, epilogue = ["gelu", "residual"]}> {sparsec.decision = "kept"}
// CHECK-NOT: sparsec.add
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "bsr"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %d = "sparsec.constant"() <{value = dense<1.0> : tensor<2x2x2xf32>}> : () -> tensor<2x2x2xf32>
  %i = "sparsec.constant"() <{value = dense<[0, 1]> : tensor<2xi32>}> : () -> tensor<2xi32>
  %p = "sparsec.constant"() <{value = dense<[0, 1, 2]> : tensor<3xi32>}> : () -> tensor<3xi32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.bsr_linear"(%arg0, %d, %i, %p, %b) <{block_shape = array<i64: 2, 2>, dense_shape = array<i64: 4, 4>}> {sparsec.decision = "kept"} : (tensor<2x4xf32>, tensor<2x2x2xf32>, tensor<2xi32>, tensor<3xi32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%g, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a gelu whose input has a second user stays apart (so does the add after it).
// CHECK-LABEL: sym_name = "gelu_two_users"
// CHECK-NOT: epilogue
// CHECK: sparsec.gelu
// CHECK: sparsec.add
"func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "gelu_two_users"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%g, %arg0) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r, %y) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a gelu with two users keeps its own op; the linear still takes nothing after it.
// CHECK-LABEL: sym_name = "gelu_result_two_users"
// CHECK: "sparsec.linear"(%arg0, %{{.*}}, %{{.*}}) <{epilogue = ["gelu"]}>
// CHECK-NOT: epilogue
// CHECK: "sparsec.add"
"func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "gelu_result_two_users"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%g, %arg0) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r, %g) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: the tanh approximation of gelu is not the kernel's epilogue.
// CHECK-LABEL: sym_name = "tanh_gelu"
// CHECK-NOT: epilogue
// CHECK: "sparsec.gelu"({{.*}}) <{approximate = "tanh"}>
"func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "tanh_gelu"}> ({
^bb0(%arg0: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "tanh"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%g) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a residual that is not an add (sub, mul) stays apart.
// CHECK-LABEL: sym_name = "not_an_add"
// CHECK-NOT: epilogue
// CHECK: "sparsec.sub"
// CHECK: "sparsec.mul"
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "not_an_add"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %s = "sparsec.sub"(%y, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %y2 = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %m = "sparsec.mul"(%y2, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%s, %m) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: an add that broadcasts its other operand is not a residual.
// CHECK-LABEL: sym_name = "broadcast_add"
// CHECK-NOT: epilogue
// CHECK: "sparsec.add"
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>, sym_name = "broadcast_add"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%y, %arg1) : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: without a bias the residual would be ambiguous as the third operand: gelu only.
// CHECK-LABEL: sym_name = "no_bias"
// CHECK: "sparsec.linear"(%arg0, %{{.*}}) <{epilogue = ["gelu"]}>
// CHECK: "sparsec.add"
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "no_bias"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %y = "sparsec.linear"(%arg0, %w) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%g, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a weight computed at run time is not packed, so there is no kernel to fuse into.
// CHECK-LABEL: sym_name = "computed_weight"
// CHECK-NOT: epilogue
// CHECK: sparsec.gelu
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>, sym_name = "computed_weight"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<4x4xf32>):
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %arg1, %b) : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%g) : (tensor<2x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a float64 linear (the kernels are float32).
// CHECK-LABEL: sym_name = "f64_linear"
// CHECK-NOT: epilogue
// CHECK: sparsec.gelu
"func.func"() <{function_type = (tensor<2x4xf64>) -> tensor<2x4xf64>, sym_name = "f64_linear"}> ({
^bb0(%arg0: tensor<2x4xf64>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf64>}> : () -> tensor<4x4xf64>
  %y = "sparsec.linear"(%arg0, %w) : (tensor<2x4xf64>, tensor<4x4xf64>) -> tensor<2x4xf64>
  %g = "sparsec.gelu"(%y) <{approximate = "none"}> : (tensor<2x4xf64>) -> tensor<2x4xf64>
  "func.return"(%g) : (tensor<2x4xf64>) -> ()
}) : () -> ()

// -----

// A linear that already has an epilogue takes a following residual (the pass is idempotent).
// CHECK-LABEL: sym_name = "extend"
// CHECK: "sparsec.linear"(%arg0, %{{.*}}, %{{.*}}, %arg1) <{epilogue = ["gelu", "residual"]}>
// CHECK-NOT: sparsec.add
"func.func"() <{function_type = (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>, sym_name = "extend"}> ({
^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<2x4xf32>):
  %w = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
  %b = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
  %y = "sparsec.linear"(%arg0, %w, %b) <{epilogue = ["gelu"]}> : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %r = "sparsec.add"(%y, %arg1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  "func.return"(%r) : (tensor<2x4xf32>) -> ()
}) : () -> ()
