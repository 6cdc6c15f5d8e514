// RUN: sparsec opt %s -p "block-shape-selection{force=1x1 layers=*.q.*=dense,enc.*=2x1}" | filecheck %s
// RUN: sparsec opt %s -p "block-shape-selection{force=dense}" | filecheck %s --check-prefix=DENSE

// Overrides beat the cost model (which would keep these small weights dense):
// `layers` globs first (first match wins: enc.q matches both globs), then `force`.
// Forced shapes still report the model's prediction, even when it is a slowdown.
// CHECK: "sparsec.linear"(%arg0, %0)
// CHECK-SAME: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "layers override *.q.*"}
// CHECK: "sparsec.linear"(%arg0, %2)
// CHECK-SAME: sparsec.decision = {block_shape = "2x1", predicted_speedup = 0.2173 : f64, reason = "layers override enc.*"}
// CHECK: "sparsec.linear"(%arg0, %4)
// CHECK-SAME: sparsec.decision = {block_shape = "1x1", predicted_speedup = 0.2102 : f64, reason = "forced"}
// DENSE-COUNT-3: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "forced"}
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "forward"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<enc.q.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %2 = "sparsec.constant"() <{value = dense_resource<enc.ffn.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %3 = "sparsec.linear"(%arg0, %2) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %4 = "sparsec.constant"() <{value = dense_resource<head.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %5 = "sparsec.linear"(%arg0, %4) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1, %3, %5) : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      enc.q.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000",
      enc.ffn.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000",
      head.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000"
    }
  }
#-}
