// RUN: sparsec opt %s -p canonicalize --split-input-file | filecheck %s
// Canonicalization with run-time sizes: an identity is only folded when it is one at every size.

// A reshape to the input's own sizes (read by `dim` on the same axes) is the input.
// CHECK-LABEL: sym_name = "identity_reshape"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<?x?x64xf32>) -> tensor<?x?x64xf32>, sym_name = "identity_reshape"}> ({
^bb0(%arg0: tensor<?x?x64xf32>):
  %0 = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x?x64xf32>) -> index
  %1 = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?x64xf32>) -> index
  %2 = "sparsec.reshape"(%arg0, %0, %1) <{shape = array<i64: -1, -1, 64>}> : (tensor<?x?x64xf32>, index, index) -> tensor<?x?x64xf32>
  "func.return"(%2) : (tensor<?x?x64xf32>) -> ()
}) : () -> ()

// -----

// The same type, the sizes swapped: [b, s] -> [s, b] is no identity.
// CHECK-LABEL: sym_name = "swapped_sizes"
// CHECK: "sparsec.reshape"(%arg0, %[[S:.*]], %[[B:.*]]) <{shape = array<i64: -1, -1, 64>}>
"func.func"() <{function_type = (tensor<?x?x64xf32>) -> tensor<?x?x64xf32>, sym_name = "swapped_sizes"}> ({
^bb0(%arg0: tensor<?x?x64xf32>):
  %0 = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x?x64xf32>) -> index
  %1 = "sparsec.dim"(%arg0) <{axis = 1}> : (tensor<?x?x64xf32>) -> index
  %2 = "sparsec.reshape"(%arg0, %1, %0) <{shape = array<i64: -1, -1, 64>}> : (tensor<?x?x64xf32>, index, index) -> tensor<?x?x64xf32>
  "func.return"(%2) : (tensor<?x?x64xf32>) -> ()
}) : () -> ()

// -----

// reshape(reshape(x)) keeps the outer reshape's sizes.
// CHECK-LABEL: sym_name = "compose_reshapes"
// CHECK: %[[B:.*]] = "sparsec.dim"(%arg0) <{axis = 0}>
// CHECK-NEXT: %[[R:.*]] = "sparsec.reshape"(%arg0, %[[B]]) <{shape = array<i64: -1, 2, 32>}> : (tensor<?x64xf32>, index) -> tensor<?x2x32xf32>
// CHECK-NEXT: "func.return"(%[[R]])
"func.func"() <{function_type = (tensor<?x64xf32>) -> tensor<?x2x32xf32>, sym_name = "compose_reshapes"}> ({
^bb0(%arg0: tensor<?x64xf32>):
  %0 = "sparsec.dim"(%arg0) <{axis = 0}> : (tensor<?x64xf32>) -> index
  %2 = "sparsec.reshape"(%arg0, %0) <{shape = array<i64: -1, 1, 64>}> : (tensor<?x64xf32>, index) -> tensor<?x1x64xf32>
  %3 = "sparsec.reshape"(%2, %0) <{shape = array<i64: -1, 2, 32>}> : (tensor<?x1x64xf32>, index) -> tensor<?x2x32xf32>
  "func.return"(%3) : (tensor<?x2x32xf32>) -> ()
}) : () -> ()

// -----

// x + zeros[4] with x: [?]: at run time x may have one element, and then the sum has four.
// x + zeros[1] is x at every size.
// CHECK-LABEL: sym_name = "add_zero_may_widen"
// CHECK: %[[W:.*]] = "sparsec.add"(%arg0, %{{.*}}) : (tensor<?xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: "func.return"(%[[W]], %arg0)
"func.func"() <{function_type = (tensor<?xf32>) -> (tensor<4xf32>, tensor<?xf32>), sym_name = "add_zero_may_widen"}> ({
^bb0(%arg0: tensor<?xf32>):
  %0 = "sparsec.constant"() <{value = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.add"(%arg0, %0) : (tensor<?xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.constant"() <{value = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %3 = "sparsec.add"(%arg0, %2) : (tensor<?xf32>, tensor<1xf32>) -> tensor<?xf32>
  "func.return"(%1, %3) : (tensor<4xf32>, tensor<?xf32>) -> ()
}) : () -> ()
