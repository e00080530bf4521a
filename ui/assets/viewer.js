// Centre the cited passage: the #cited fragment alone puts it at the very top edge.
document.getElementById("cited")?.scrollIntoView({ block: "center" });
