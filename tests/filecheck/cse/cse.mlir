// RUN: sparsec opt %s -p cse --split-input-file | filecheck %s

// Two identical ops on the same operands: the second is replaced by the first.
// CHECK-LABEL: sym_name = "duplicate_ops"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[E:.*]] = "sparsec.exp"(%arg0)
// CHECK-NEXT: %[[A:.*]] = "sparsec.add"(%[[E]], %[[E]])
// CHECK-NEXT: "func.return"(%[[A]])
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "duplicate_ops"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.exp"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.add"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%2) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Equal constants merge, which makes their users equal too: the merging cascades.
// CHECK-LABEL: sym_name = "equal_constants"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[C:.*]] = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}>
// CHECK-NEXT: %[[M:.*]] = "sparsec.mul"(%arg0, %[[C]])
// CHECK-NEXT: %[[S:.*]] = "sparsec.sub"(%[[M]], %[[M]])
// CHECK-NEXT: "func.return"(%[[S]])
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "equal_constants"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %2 = "sparsec.mul"(%arg0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = "sparsec.mul"(%arg0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = "sparsec.sub"(%2, %3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%4) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Constants with different values or types stay apart.
// CHECK-LABEL: sym_name = "different_constants"
// CHECK: dense<2.0> : tensor<4xf32>
// CHECK: dense<3.0> : tensor<4xf32>
// CHECK: dense<2.0> : tensor<4xf64>
"func.func"() <{function_type = () -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf64>), sym_name = "different_constants"}> ({
  %0 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "sparsec.constant"() <{value = dense<3.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %2 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf64>}> : () -> tensor<4xf64>
  "func.return"(%0, %1, %2) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf64>) -> ()
}) : () -> ()

// -----

// Ops that differ in properties, discardable attributes or operand order stay apart.
// CHECK-LABEL: sym_name = "not_equal"
// CHECK-COUNT-2: "sparsec.softmax"
// CHECK-COUNT-2: "sparsec.sub"
// CHECK-COUNT-2: "sparsec.tanh"
"func.func"() <{function_type = (tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>), sym_name = "not_equal"}> ({
^bb0(%arg0: tensor<4x4xf32>):
  %0 = "sparsec.softmax"(%arg0) <{axis = 0}> : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %1 = "sparsec.softmax"(%arg0) <{axis = 1}> : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %2 = "sparsec.sub"(%0, %1) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %3 = "sparsec.sub"(%1, %0) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %4 = "sparsec.tanh"(%arg0) {note = "layer 1"} : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %5 = "sparsec.tanh"(%arg0) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  "func.return"(%0, %1, %2, %3, %4, %5) : (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> ()
}) : () -> ()

// -----

// Commutative ops match with their operands in either order.
// CHECK-LABEL: sym_name = "commutative"
// CHECK-COUNT-1: "sparsec.add"
// CHECK-NOT: "sparsec.add"
"func.func"() <{function_type = (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>), sym_name = "commutative"}> ({
^bb0(%arg0: tensor<4xf32>, %arg1: tensor<4xf32>):
  %0 = "sparsec.add"(%arg0, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.add"(%arg1, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Each function is its own scope; duplicates inside each one merge.
// CHECK-LABEL: sym_name = "first"
// CHECK-COUNT-1: "sparsec.neg"
// CHECK-LABEL: sym_name = "second"
// CHECK-COUNT-1: "sparsec.neg"
// CHECK-NOT: "sparsec.neg"
"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>), sym_name = "first"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()
"func.func"() <{function_type = (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>), sym_name = "second"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0, %1) : (tensor<4xf32>, tensor<4xf32>) -> ()
}) : () -> ()
