#include "ir/graph.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace hq {

std::string Node::describe() const {
  std::string d = domain.empty() ? opType : domain + "." + opType;
  if (!name.empty()) return d + " '" + name + "'";
  if (!outputs.empty() && outputs[0]) return d + " (output '" + outputs[0]->name + "')";
  return d;
}

std::string Graph::uniqueName(const std::string& base) const {
  std::string b = base.empty() ? "v" : base;
  if (!valueByName_.count(b) && !findNode(b)) return b;
  for (int i = 1;; ++i) {
    std::string n = b + "_" + std::to_string(i);
    if (!valueByName_.count(n) && !findNode(n)) return n;
  }
}

Value* Graph::addValue(const std::string& name, DType dtype, Shape shape, bool has_shape) {
  auto v = std::make_unique<Value>();
  v->name = valueByName_.count(name) || name.empty() ? uniqueName(name) : name;
  v->dtype = dtype;
  v->shape = std::move(shape);
  v->hasShape = has_shape;
  Value* raw = v.get();
  valueByName_[raw->name] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::addConstant(const std::string& name, Tensor data) {
  Value* v = addValue(name, data.dtype(), data.shape(), true);
  v->constant = std::move(data);
  return v;
}

Value* Graph::findValue(const std::string& name) const {
  auto it = valueByName_.find(name);
  return it == valueByName_.end() ? nullptr : it->second;
}

Status Graph::renameValue(Value* v, const std::string& new_name) {
  if (v->name == new_name) return Status::ok();
  if (new_name.empty() || valueByName_.count(new_name)) {
    return HQ_ERROR(kInvalidArgument, "cannot rename '{}' to '{}': the name is {}", v->name,
                    new_name, new_name.empty() ? "empty" : "taken");
  }
  valueByName_.erase(v->name);
  v->name = new_name;
  valueByName_[new_name] = v;
  return Status::ok();
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v.get());
  return out;
}

std::vector<Value*> Graph::constants() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (v->isConstant()) out.push_back(v.get());
  }
  return out;
}

Node* Graph::addNode(const std::string& op_type, const std::string& name,
                     std::vector<Value*> inputs, std::vector<Value*> outputs, Attributes attrs,
                     const std::string& domain) {
  auto n = std::make_unique<Node>();
  n->opType = op_type;
  n->name = name;
  n->domain = domain;
  n->inputs = std::move(inputs);
  n->outputs = std::move(outputs);
  n->attrs = std::move(attrs);
  for (Value* o : n->outputs) {
    if (o) o->producer = n.get();
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

Node* Graph::insertNodeBefore(const Node* before, std::unique_ptr<Node> node) {
  for (Value* o : node->outputs) {
    if (o) o->producer = node.get();
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [&](const std::unique_ptr<Node>& p) { return p.get() == before; });
  return nodes_.insert(it, std::move(node))->get();
}

void Graph::removeNode(const Node* node) {
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [&](const std::unique_ptr<Node>& p) { return p.get() == node; });
  if (it == nodes_.end()) return;
  for (Value* o : (*it)->outputs) {
    if (o && o->producer == node) o->producer = nullptr;
  }
  nodes_.erase(it);
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

Node* Graph::findNode(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (n->name == name) return n.get();
  }
  return nullptr;
}

std::vector<Node*> Graph::consumers(const Value* v) const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    if (std::find(n->inputs.begin(), n->inputs.end(), v) != n->inputs.end()) out.push_back(n.get());
  }
  return out;
}

bool Graph::isGraphOutput(const Value* v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

void Graph::replaceAllUses(Value* from, Value* to) {
  for (auto& n : nodes_) {
    for (Value*& in : n->inputs) {
      if (in == from) in = to;
    }
  }
  for (Value*& o : outputs_) {
    if (o == from) o = to;
  }
}

void Graph::removeDeadNodes() {
  bool changed = true;
  while (changed) {
    changed = false;
    std::unordered_set<const Value*> used(outputs_.begin(), outputs_.end());
    for (const auto& n : nodes_) {
      for (Value* in : n->inputs) used.insert(in);
    }
    for (size_t i = nodes_.size(); i-- > 0;) {
      const Node* n = nodes_[i].get();
      bool any = std::any_of(n->outputs.begin(), n->outputs.end(),
                             [&](const Value* o) { return o && used.count(o); });
      if (!any) {
        removeNode(n);
        changed = true;
      }
    }
  }
  removeDeadValues();
}

void Graph::removeDeadValues() {
  std::unordered_set<const Value*> live(inputs_.begin(), inputs_.end());
  live.insert(outputs_.begin(), outputs_.end());
  for (const auto& n : nodes_) {
    live.insert(n->inputs.begin(), n->inputs.end());
    live.insert(n->outputs.begin(), n->outputs.end());
  }
  std::vector<std::unique_ptr<Value>> kept;
  for (auto& v : values_) {
    if (live.count(v.get())) {
      kept.push_back(std::move(v));
    } else {
      valueByName_.erase(v->name);
    }
  }
  values_ = std::move(kept);
}

Status Graph::sortTopologically() {
  std::unordered_map<const Value*, size_t> producer_index;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (Value* o : nodes_[i]->outputs) {
      if (o) producer_index[o] = i;
    }
  }
  // Kahn's algorithm, stable: among ready nodes the earliest in the old order goes first.
  std::vector<int> pending(nodes_.size(), 0);
  std::vector<std::vector<size_t>> users(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::set<size_t> deps;
    for (Value* in : nodes_[i]->inputs) {
      if (!in) continue;
      auto it = producer_index.find(in);
      if (it != producer_index.end()) deps.insert(it->second);
    }
    pending[i] = static_cast<int>(deps.size());
    for (size_t d : deps) users[d].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (pending[i] == 0) ready.insert(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t u : users[i]) {
      if (--pending[u] == 0) ready.insert(u);
    }
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (pending[i] > 0) {
        return HQ_ERROR(kParse, "graph has a cycle through node {}", nodes_[i]->describe());
      }
    }
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes_.size());
  for (size_t i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  return Status::ok();
}

Status Graph::verify() const {
  std::unordered_set<const Value*> defined(inputs_.begin(), inputs_.end());
  for (const auto& v : values_) {
    if (v->isConstant()) defined.insert(v.get());
  }
  std::unordered_set<std::string> node_names;
  for (const auto& n : nodes_) {
    if (!n->name.empty() && !node_names.insert(n->name).second) {
      return HQ_ERROR(kParse, "two nodes are named '{}'", n->name);
    }
    for (const Value* in : n->inputs) {
      if (in && !defined.count(in)) {
        return HQ_ERROR(kParse, "node {} reads '{}' before anything defines it", n->describe(),
                        in->name);
      }
    }
    for (const Value* o : n->outputs) {
      if (!o) continue;
      if (o->producer != n.get()) {
        return HQ_ERROR(kInternal, "value '{}' has a stale producer link", o->name);
      }
      if (!defined.insert(o).second) {
        return HQ_ERROR(kParse, "value '{}' is defined twice (by node {})", o->name, n->describe());
      }
    }
  }
  for (const Value* o : outputs_) {
    if (!defined.count(o)) return HQ_ERROR(kParse, "graph output '{}' is never computed", o->name);
  }
  return Status::ok();
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  g->metadata = metadata;
  g->producerName = producerName;
  g->producerVersion = producerVersion;
  g->docString = docString;
  g->opsetVersion = opsetVersion;
  g->extraOpsets = extraOpsets;
  std::unordered_map<const Value*, Value*> map;
  for (const auto& v : values_) {
    Value* c = g->addValue(v->name, v->dtype, v->shape, v->hasShape);
    c->dimParams = v->dimParams;
    c->constant = v->constant;
    map[v.get()] = c;
  }
  auto m = [&](Value* v) { return v ? map.at(v) : nullptr; };
  for (const auto& n : nodes_) {
    std::vector<Value*> ins, outs;
    for (Value* v : n->inputs) ins.push_back(m(v));
    for (Value* v : n->outputs) outs.push_back(m(v));
    g->addNode(n->opType, n->name, ins, outs, n->attrs, n->domain);
  }
  for (Value* v : inputs_) g->inputs_.push_back(m(v));
  for (Value* v : outputs_) g->outputs_.push_back(m(v));
  return g;
}

}  // namespace hq
