// RUN: sparsec opt %s --split-input-file --verify-diagnostics
// Element-wise ops, and the checks every op gets (operand and result counts, properties,
// inferred result types): each case is one invalid op, its error expected at it.

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>, sym_name = "add_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<4xf32>):
  // expected-error @+1 {{'sparsec.add' op shapes [2, 3] and [4] do not broadcast}}
  %0 = "sparsec.add"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>, sym_name = "add_element_types_differ"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2x3xi64>):
  // expected-error @+1 {{'sparsec.add' op operand element types differ: f32, i64}}
  %0 = "sparsec.add"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<2x3xf32>, sym_name = "add_expects_2_operands_got_1"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.add' op expects 2 operands, got 1}}
  %0 = "sparsec.add"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>, sym_name = "add_unknown_properties"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.add' op has unknown properties: alpha}}
  %0 = "sparsec.add"(%arg0, %arg1) <{alpha = 1}> : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>) -> tensor<4xf32>, sym_name = "add_differ_from_the_inferred"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.add' op result types (tensor<4xf32>) differ from the inferred (tensor<3xf32>)}}
  %0 = "sparsec.add"(%arg0, %arg1) : (tensor<3xf32>, tensor<3xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>, sym_name = "div_float_element"}> ({
^bb0(%arg0: tensor<3xi64>, %arg1: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.div' op 'sparsec.div' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.div"(%arg0, %arg1) : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>, sym_name = "and_must_have_element_type_i1"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.and' op operand #0 must have element type i1, got tensor<3xf32>}}
  %0 = "sparsec.and"(%arg0, %arg1) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi32>) -> tensor<3xi32>, sym_name = "not_must_have_element_type_i1"}> ({
^bb0(%arg0: tensor<3xi32>):
  // expected-error @+1 {{'sparsec.not' op operand #0 must have element type i1, got tensor<3xi32>}}
  %0 = "sparsec.not"(%arg0) : (tensor<3xi32>) -> tensor<3xi32>
  "func.return"(%0) : (tensor<3xi32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "exp_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.exp' op 'sparsec.exp' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.exp"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>) -> tensor<3xi1>, sym_name = "cmp_predicate_lte_is_not_one_of"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.cmp' op predicate 'lte' is not one of eq, ne, lt, le, gt, ge}}
  %0 = "sparsec.cmp"(%arg0, %arg1) <{predicate = "lte"}> : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xi1>
  "func.return"(%0) : (tensor<3xi1>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>) -> tensor<3xi1>, sym_name = "cmp_property_predicate_must_be_stringattr"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.cmp' op property 'predicate' must be StringAttr, got 1}}
  %0 = "sparsec.cmp"(%arg0, %arg1) <{predicate = 1}> : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xi1>
  "func.return"(%0) : (tensor<3xi1>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>, sym_name = "where_condition_must_have_element_type_i1"}> ({
^bb0(%arg0: tensor<3xf32>, %arg1: tensor<3xf32>, %arg2: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.where' op condition must have element type i1, got f32}}
  %0 = "sparsec.where"(%arg0, %arg1, %arg2) : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<3xf32>, sym_name = "gelu_approximate_must"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.gelu' op approximate must be "none" or "tanh"}}
  %0 = "sparsec.gelu"(%arg0) <{approximate = "erf"}> : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<3xf32>, sym_name = "gelu_requires_property_approximate"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.gelu' op requires property 'approximate'}}
  %0 = "sparsec.gelu"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<3xf32>, sym_name = "dropout_p_must_be_in_0_1_got_1_5"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.dropout' op dropout probability p must be in [0, 1], got 1.5}}
  %0 = "sparsec.dropout"(%arg0) <{p = 1.5 : f64, train = false}> : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> tensor<3x2xi64>, sym_name = "cast_cast_changes_the_shape"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.cast' op cast changes the shape from tensor<2x3xf32> to tensor<3x2xi64>}}
  %0 = "sparsec.cast"(%arg0) : (tensor<2x3xf32>) -> tensor<3x2xi64>
  "func.return"(%0) : (tensor<3x2xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>) -> (), sym_name = "cast_expects_1_results_got_0"}> ({
^bb0(%arg0: tensor<2x3xf32>):
  // expected-error @+1 {{'sparsec.cast' op expects 1 results, got 0}}
  "sparsec.cast"(%arg0) : (tensor<2x3xf32>) -> ()
  "func.return"() : () -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>, sym_name = "sub_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.sub' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.sub"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>, sym_name = "mul_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.mul' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.mul"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>, sym_name = "pow_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.pow' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.pow"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>, sym_name = "maximum_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.maximum' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.maximum"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>, sym_name = "minimum_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xf32>, %arg1: tensor<2xf32>):
  // expected-error @+1 {{'sparsec.minimum' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.minimum"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  "func.return"(%0) : (tensor<2x3xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<2x3xi1>, tensor<2xi1>) -> tensor<2x3xi1>, sym_name = "or_do_not_broadcast"}> ({
^bb0(%arg0: tensor<2x3xi1>, %arg1: tensor<2xi1>):
  // expected-error @+1 {{'sparsec.or' op shapes [2, 3] and [2] do not broadcast}}
  %0 = "sparsec.or"(%arg0, %arg1) : (tensor<2x3xi1>, tensor<2xi1>) -> tensor<2x3xi1>
  "func.return"(%0) : (tensor<2x3xi1>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "log_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.log' op 'sparsec.log' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.log"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "sqrt_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.sqrt' op 'sparsec.sqrt' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.sqrt"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "rsqrt_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.rsqrt' op 'sparsec.rsqrt' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.rsqrt"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "tanh_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.tanh' op 'sparsec.tanh' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.tanh"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "erf_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.erf' op 'sparsec.erf' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.erf"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "sigmoid_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.sigmoid' op 'sparsec.sigmoid' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.sigmoid"(%arg0) : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xi64>) -> tensor<3xi64>, sym_name = "gelu_must_have_a_float_element_type"}> ({
^bb0(%arg0: tensor<3xi64>):
  // expected-error @+1 {{'sparsec.gelu' op 'sparsec.gelu' operand must have a float element type, got tensor<3xi64>}}
  %0 = "sparsec.gelu"(%arg0) <{approximate = "none"}> : (tensor<3xi64>) -> tensor<3xi64>
  "func.return"(%0) : (tensor<3xi64>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<4xf32>, sym_name = "neg_differ_from_the_inferred"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.neg' op result types (tensor<4xf32>) differ from the inferred (tensor<3xf32>)}}
  %0 = "sparsec.neg"(%arg0) : (tensor<3xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<4xf32>, sym_name = "relu_differ_from_the_inferred"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.relu' op result types (tensor<4xf32>) differ from the inferred (tensor<3xf32>)}}
  %0 = "sparsec.relu"(%arg0) : (tensor<3xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()

// -----

"func.func"() <{function_type = (tensor<3xf32>) -> tensor<4xf32>, sym_name = "abs_differ_from_the_inferred"}> ({
^bb0(%arg0: tensor<3xf32>):
  // expected-error @+1 {{'sparsec.abs' op result types (tensor<4xf32>) differ from the inferred (tensor<3xf32>)}}
  %0 = "sparsec.abs"(%arg0) : (tensor<3xf32>) -> tensor<4xf32>
  "func.return"(%0) : (tensor<4xf32>) -> ()
}) : () -> ()
