// RUN: sparsec opt %s -p dce --split-input-file | filecheck %s

// An unused chain of pure ops is erased, last user first.
// CHECK-LABEL: sym_name = "dead_chain"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: "func.return"(%arg0)
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "dead_chain"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.exp"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.tanh"(%1) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Ops feeding the return stay; only the dead branch goes.
// CHECK-LABEL: sym_name = "live_and_dead"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[N:.*]] = "sparsec.neg"(%arg0)
// CHECK-NEXT: %[[E:.*]] = "sparsec.exp"(%[[N]])
// CHECK-NEXT: "func.return"(%[[E]])
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "live_and_dead"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "sparsec.tanh"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  %2 = "sparsec.exp"(%0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%2) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

// Unused constants, weights in resources included, are erased with their blobs.
// CHECK-LABEL: sym_name = "dead_constants"
// CHECK-NOT: sparsec.constant
// CHECK-NOT: dialect_resources
"func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "dead_constants"}> ({
^bb0(%arg0: tensor<2xf32>):
  %0 = "sparsec.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %1 = "sparsec.constant"() <{value = dense_resource<w> : tensor<2xf32>}> : () -> tensor<2xf32>
  "func.return"(%arg0) : (tensor<2xf32>) -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F00000040"
    }
  }
#-}

// -----

// Functions are not pure values: an unused function stays, and so does its body.
// CHECK-LABEL: sym_name = "helper"
// CHECK: "sparsec.relu"
// CHECK-LABEL: sym_name = "main"
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "helper"}> ({
^bb0(%arg0: tensor<4xf32>):
  %0 = "sparsec.relu"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()
"func.func"() <{function_type = (tensor<4xf32>) -> tensor<4xf32>, sym_name = "main"}> ({
^bb0(%arg0: tensor<4xf32>):
  "func.return"(%arg0) : (tensor<4xf32>) -> ()
}) : () -> ()
