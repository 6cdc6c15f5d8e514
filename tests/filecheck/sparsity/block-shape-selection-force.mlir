// RUN: sparsec opt %s -p "block-shape-selection{force=1x1}" | filecheck %s
// RUN: sparsec opt %s -p "block-shape-selection{force=1x1 layers=pooler.*=1x1}" \
// RUN:   | filecheck %s --check-prefix=NAMED

// `force` applies only to weights sparse enough: the fully dense pooler stays dense (above
// dense-above, 0.5), with that as the reason, while the 31 % dense encoder weight is forced.
// CHECK: "sparsec.linear"(%arg0, %0)
// CHECK-SAME: sparsec.decision = {block_shape = "1x1", predicted_speedup = {{.*}}, reason = "forced"}
// CHECK: "sparsec.linear"(%arg0, %2)
// CHECK-SAME: sparsec.decision = {block_shape = "dense", predicted_speedup = 1.0 : f64, reason = "density 1 > dense-above 0.5"}

// A `layers` glob that names the dense weight still forces it: the user asked for that layer.
// NAMED: "sparsec.linear"(%arg0, %0)
// NAMED-SAME: reason = "forced"
// NAMED: "sparsec.linear"(%arg0, %2)
// NAMED-SAME: sparsec.decision = {block_shape = "1x1", predicted_speedup = {{.*}}, reason = "layers override pooler.*"}
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>), sym_name = "forward"}> ({
  ^bb0(%arg0: tensor<2x4xf32>):
    %0 = "sparsec.constant"() <{value = dense_resource<enc.q.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %1 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    %2 = "sparsec.constant"() <{value = dense_resource<pooler.weight> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
    %3 = "sparsec.linear"(%arg0, %2) : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
    "func.return"(%1, %3) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ()
  }) : () -> ()
}) : () -> ()
{-#
  dialect_resources: {
    builtin: {
      enc.q.weight: "0x040000000000803F000000400000000000000000000040400000804000000000000000000000000000000000000000000000000000000000000000000000A04000000000",
      pooler.weight: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}
