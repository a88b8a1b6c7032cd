#include <catch2/catch.hpp>

#include "artana/kernel/json.h"

using artana::kernel::Json;

TEST_CASE("json objects keep insertion order and set replaces an existing member", "[json]") {
  Json j = Json::object({{"b", 1}, {"a", "x"}});
  j.set("b", 2);
  j.set("c", true);
  REQUIRE(j.size() == 3);
  REQUIRE(j.as_object()[0].first == "b");
  REQUIRE(j.find("b")->as_integer() == 2);
  REQUIRE(j.find("missing") == nullptr);
}

TEST_CASE("json numbers compare by value across integer and double", "[json]") {
  REQUIRE(Json(1) == Json(1.0));
  REQUIRE_FALSE(Json(1) == Json(1.5));
  REQUIRE_FALSE(Json("1") == Json(1));
}
