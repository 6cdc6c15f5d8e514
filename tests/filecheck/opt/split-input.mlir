// RUN: sparsec opt %s --split-input-file | filecheck %s
// RUN: sparsec opt %s | filecheck %s --check-prefix=WHOLE

// Each case is its own module; the outputs are joined by a `// -----` line.
// CHECK: "builtin.module"
// CHECK: sym_name = "first"
// CHECK: {{^// -----$}}
// CHECK-NEXT: "builtin.module"
// CHECK: sym_name = "second"
// CHECK-NOT: // -----

// Without --split-input-file the marker is just a comment: one module, two functions.
// WHOLE: "builtin.module"
// WHOLE: sym_name = "first"
// WHOLE-NOT: "builtin.module"
// WHOLE: sym_name = "second"

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "first"}> ({
^bb0(%arg0: tensor<4xf32>):
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "second"}> ({
^bb0(%arg0: tensor<4xf32>):
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()
