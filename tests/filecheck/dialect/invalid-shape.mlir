// RUN: sparsec opt %s --split-input-file --verify-diagnostics
// Ops that reshape, reorder, reduce or gather: each case is one invalid op, its error expected at it.

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "softmax_axis_2_is_out_of_range_for_rank_2"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.softmax' op axis 2 is out of range for rank 2}}
  %0 = "sparsec.softmax"(%arg0) <{axis = 2}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xi64>) -> tensor<2x3xi64>, sym_name = "softmax_float_element"}> ({
^bb0(%arg0: tensor<2x3xi64>):
  // expected-error @+1 {{'sparsec.softmax' op input must have a float element type, got tensor<2x3xi64>}}
  %0 = "sparsec.softmax"(%arg0) <{axis = 1}> : (tensor<2x3xi64>) -> tensor<2x3xi64>
  "func.return"(%0) : (tensor<2x3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "cumsum_axis_5_is_out_of_range"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.cumsum' op axis 5 is out of range for rank 2}}
  %0 = "sparsec.cumsum"(%arg0) <{axis = 5}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2xf32>, sym_name = "reduce_kind_prod_is_not_one_of_sum_mean_max_min"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.reduce' op kind 'prod' is not one of sum, mean, max, min}}
  %0 = "sparsec.reduce"(%arg0) <{axes = array<i64: 1>, keepdim = false, kind = "prod"}> : (tensor<2x3xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2xf32>, sym_name = "reduce_axes_1_1_are_invalid_for_rank_2"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.reduce' op axes [1, 1] are invalid for rank 2}}
  %0 = "sparsec.reduce"(%arg0) <{axes = array<i64: 1, 1>, keepdim = false, kind = "sum"}> : (tensor<2x3xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "layer_norm_not_the_trailing_shape"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.layer_norm' op normalized_shape [2] is not the trailing shape of tensor<2x3xf32>}}
  %0 = "sparsec.layer_norm"(%arg0) <{epsilon = 1.0e-05 : f64, normalized_shape = array<i64: 2>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "layer_norm_epsilon_must_be_0"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.layer_norm' op epsilon must be >= 0, got -1.0}}
  %0 = "sparsec.layer_norm"(%arg0) <{epsilon = -1.0 : f64, normalized_shape = array<i64: 3>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>, sym_name = "embedding_integer_ids"}> ({
^bb0(%arg0: tensor<10x4xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.embedding' op embedding needs a rank-2 table and integer ids, got tensor<10x4xf32> and tensor<3xf32>}}
  %0 = "sparsec.embedding"(%arg0, %arg1) : (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>
  "func.return"(%0) : (tensor<3x4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<5x6xf32>, tensor<2xf32>) -> tensor<5x2xf32>, sym_name = "take_indices_must_be_integers"}> ({
^bb0(%arg0: tensor<5x6xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.take' op indices must be integers, got f32}}
  %0 = "sparsec.take"(%arg0, %arg1) <{axis = 1}> : (tensor<5x6xf32>, tensor<2xf32>) -> tensor<5x2xf32>
  "func.return"(%0) : (tensor<5x2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x6xf32>) -> tensor<5x2xf32>, sym_name = "reshape_cannot_reshape"}> ({
^bb0(%arg0: tensor<2x6xf32>):
  // expected-error @+1 {{'sparsec.reshape' op cannot reshape tensor<2x6xf32> (12 elements) to [5, 2]}}
  %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 5, 2>}> : (tensor<2x6xf32>) -> tensor<5x2xf32>
  "func.return"(%0) : (tensor<5x2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x2xf32>, sym_name = "permute_not_a_permutation"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.permute' op perm [0, 0] is not a permutation of 2 axes}}
  %0 = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 0>}> : (tensor<2x3xf32>) -> tensor<2x2xf32>
  "func.return"(%0) : (tensor<2x2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<4xf32>) -> tensor<0xf32>, sym_name = "slice_must_have_0_start_end"}> ({
^bb0(%arg0: tensor<4xf32>):
  // expected-error @+1 {{'sparsec.slice' op slice [3:1:1] must have 0 <= start <= end and step >= 1}}
  %0 = "sparsec.slice"(%arg0) <{axis = 0, end = 1, start = 3, step = 1}> : (tensor<4xf32>) -> tensor<0xf32>
  "func.return"(%0) : (tensor<0xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x6xf32>, sym_name = "concat_differ_in_dimension_0"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<3x3xf32>):
  // expected-error @+1 {{'sparsec.concat' op concat operands differ in dimension 0: 3 vs 2}}
  %0 = "sparsec.concat"(%arg0, %arg1) <{axis = 1}> : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x6xf32>
  "func.return"(%0) : (tensor<2x6xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = () -> tensor<2xf32>, sym_name = "concat_at_least_one_operand"}> ({
  // expected-error @+1 {{'sparsec.concat' op concat needs at least one operand}}
  %0 = "sparsec.concat"() <{axis = 1}> : () -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3x2xf32>) -> tensor<3x4xf32>, sym_name = "broadcast_to_do_not_broadcast"}> ({
^bb0(%arg0: tensor<3x2xf32>):
  // expected-error @+1 {{'sparsec.broadcast_to' op shapes [3, 2] and [3, 4] do not broadcast}}
  %0 = "sparsec.broadcast_to"(%arg0) <{shape = array<i64: 3, 4>}> : (tensor<3x2xf32>) -> tensor<3x4xf32>
  "func.return"(%0) : (tensor<3x4xf32>) -> ()
}) : () -> ()
